package dev.capsulevm.renter.access;

import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.crypto.Signature;
import dev.capsulevm.proofs.crypto.SigningKey;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A member's public identity, what it hands to whoever shares a capsule with it: its Ed25519 identity key
 * (the key members are added under) and its X25519 encryption key (what access strings are sealed to),
 * bound by the identity's signature {@code Ed25519-sign(identity, 0x51 || ed25519 pub || x25519 pub)}.
 * Text form: {@code cvm-member1:} then base64url without padding of {@code ed25519 pub (32) || x25519 pub
 * (32) || signature (64)}. Immutable.
 */
public final class MemberCard {
  /** The prefix of the text form. */
  public static final String PREFIX = "cvm-member1:";
  /** The length of the encoded card. */
  public static final int LENGTH = PublicKey.LENGTH + EncryptionKey.LENGTH + Signature.LENGTH;

  private final PublicKey identity;
  private final byte[] encryptionKey;
  private final Signature signature;

  private MemberCard(PublicKey identity, byte[] encryptionKey, Signature signature) {
    this.identity = identity;
    this.encryptionKey = encryptionKey;
    this.signature = signature;
  }

  /** The card of the member holding {@code identity} and {@code encryption}. */
  public static MemberCard create(SigningKey identity, EncryptionKey encryption) {
    byte[] x25519 = encryption.publicKey();
    PublicKey id = identity.publicKey();
    return new MemberCard(id, x25519, identity.sign(Domain.MEMBER_CARD_SIGNATURE, signed(id, x25519)));
  }

  /**
   * Parses and checks a card's text form (surrounding and embedded whitespace, as mail wrapping leaves
   * it, is ignored).
   *
   * @throws AccessException naming what is wrong: the prefix, the base64url, the length, the identity key
   *     or the signature
   */
  public static MemberCard parse(String text) throws AccessException {
    Objects.requireNonNull(text, "text");
    String compact = text.replaceAll("\\s+", "");
    if (!compact.startsWith(PREFIX)) {
      throw new AccessException("not a member card: it must start with " + PREFIX);
    }
    byte[] bytes = Text.decode("member card", PREFIX, compact);
    if (bytes.length != LENGTH) {
      throw new AccessException("a member card is " + LENGTH + " bytes, got " + bytes.length
          + (bytes.length < LENGTH ? " (truncated)" : ""));
    }
    Text.requireCanonical("member card", PREFIX, compact, bytes);
    PublicKey identity;
    try {
      identity = PublicKey.copyOf(bytes, 0, PublicKey.LENGTH);
    } catch (IllegalArgumentException e) {
      throw new AccessException("member card's identity is not an Ed25519 public key", e);
    }
    byte[] x25519 = Arrays.copyOfRange(bytes, PublicKey.LENGTH, PublicKey.LENGTH + EncryptionKey.LENGTH);
    Signature signature = Signature.copyOf(bytes, PublicKey.LENGTH + EncryptionKey.LENGTH, Signature.LENGTH);
    if (!identity.verify(Domain.MEMBER_CARD_SIGNATURE, signed(identity, x25519), signature)) {
      throw new AccessException("member card's signature does not verify under its identity key "
          + identity.toHex());
    }
    return new MemberCard(identity, x25519, signature);
  }

  /** The bytes the signature covers after its tag: {@code ed25519 pub || x25519 pub}. */
  private static byte[] signed(PublicKey identity, byte[] x25519) {
    byte[] out = new byte[PublicKey.LENGTH + EncryptionKey.LENGTH];
    identity.copyTo(out, 0);
    System.arraycopy(x25519, 0, out, PublicKey.LENGTH, EncryptionKey.LENGTH);
    return out;
  }

  /** The member's Ed25519 identity key. */
  public PublicKey identity() {
    return identity;
  }

  /** A fresh copy of the member's 32-byte X25519 public key. */
  public byte[] encryptionKey() {
    return encryptionKey.clone();
  }

  public Signature signature() {
    return signature;
  }

  /** The 128 encoded bytes. */
  public byte[] encoded() {
    byte[] out = new byte[LENGTH];
    identity.copyTo(out, 0);
    System.arraycopy(encryptionKey, 0, out, PublicKey.LENGTH, EncryptionKey.LENGTH);
    signature.copyTo(out, PublicKey.LENGTH + EncryptionKey.LENGTH);
    return out;
  }

  @Override
  public boolean equals(@Nullable Object o) {
    return o instanceof MemberCard other && identity.equals(other.identity)
        && MessageDigest.isEqual(encryptionKey, other.encryptionKey) && signature.equals(other.signature);
  }

  @Override
  public int hashCode() {
    return identity.hashCode() * 31 + Arrays.hashCode(encryptionKey);
  }

  /** The text form, {@code cvm-member1:...}. */
  @Override
  public String toString() {
    return Text.encode(PREFIX, encoded());
  }
}
