package dev.capsulevm.proofs.members;

import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.Sha256;
import dev.capsulevm.proofs.crypto.SigningKey;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;

/**
 * Keystore blocks for tests of the host-side rules, which never open a wrap: each entry has a real card
 * signature (Ed25519, tag 0x51) over a made-up X25519 key, and made-up enc and wrapped bytes. Epoch keys
 * are made up from names.
 */
public final class KeystoreFixture {
  private KeystoreFixture() {}

  /** A made-up epoch key for the epoch called {@code name}. */
  public static EpochKey epoch(String name) {
    return EpochKey.copyOf(Sha256.hash(Domain.MERKLE_LEAF, ("epoch " + name).getBytes(StandardCharsets.UTF_8)).toByteArray());
  }

  /** {@code member}'s made-up X25519 key: 32 bytes that depend only on the member. */
  public static byte[] x25519Of(SigningKey member) {
    return Sha256.hash(Domain.MERKLE_LEAF, member.publicKey().toByteArray()).toByteArray();
  }

  /** {@code member}'s entry: its card (a real signature over its made-up X25519 key) and stand-in wrap. */
  public static Keystore.Entry entry(SigningKey member) {
    byte[] x25519 = x25519Of(member);
    byte[] signed = new byte[64];
    member.publicKey().copyTo(signed, 0);
    System.arraycopy(x25519, 0, signed, 32, 32);
    byte[] enc = new byte[Keystore.ENC_LENGTH];
    Arrays.fill(enc, (byte) 0xe0);
    byte[] wrapped = new byte[Keystore.SEALED_LENGTH];
    Arrays.fill(wrapped, (byte) 0xee);
    return new Keystore.Entry(member.publicKey(), x25519, member.sign(Domain.MEMBER_CARD_SIGNATURE, signed), enc, wrapped);
  }

  /** A stand-in previous link to {@code previous}. */
  public static Keystore.PreviousLink link(EpochKey previous) {
    byte[] sealed = new byte[Keystore.SEALED_LENGTH];
    Arrays.fill(sealed, (byte) 0x5e);
    return new Keystore.PreviousLink(previous, sealed);
  }

  /** A rotate block starting {@code epoch} for {@code members}, linking {@code previous}. */
  public static Keystore rotate(EpochKey epoch, List<EpochKey> previous, SigningKey... members) {
    return Keystore.rotate(epoch, previous.stream().map(KeystoreFixture::link).toList(),
        Arrays.stream(members).map(KeystoreFixture::entry).toList());
  }

  /** A forward block of {@code epoch} for {@code members}. */
  public static Keystore forward(EpochKey epoch, SigningKey... members) {
    return Keystore.forward(epoch, Arrays.stream(members).map(KeystoreFixture::entry).toList());
  }
}
