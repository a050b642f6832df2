package dev.capsulevm.proofs.privacy;

import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.crypto.Signature;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proofs.members.Keystore;
import java.util.Arrays;
import org.bouncycastle.crypto.params.X25519PrivateKeyParameters;

/** Members with fixed keys, and byte helpers, for the privacy tests. */
final class PrivacyFixture {
  private PrivacyFixture() {}

  /** A member: its Ed25519 identity, its X25519 key and its member card's signature binding the two. */
  record Member(SigningKey identity, X25519PrivateKeyParameters x25519, Signature card) {
    PublicKey key() {
      return identity.publicKey();
    }

    byte[] x25519Public() {
      return x25519.generatePublicKey().getEncoded();
    }

    Keystore.Entry wrap(EpochSecret secret) {
      return secret.wrapFor(key(), x25519Public(), card);
    }
  }

  /** The member of Ed25519 seed 32 x {@code seed} and X25519 private key 32 x {@code x25519}. */
  static Member member(int seed, int x25519) {
    SigningKey identity = SigningKey.fromSeed(filled(seed));
    X25519PrivateKeyParameters key = new X25519PrivateKeyParameters(filled(x25519), 0);
    byte[] signed = new byte[64];
    identity.publicKey().copyTo(signed, 0);
    key.generatePublicKey().encode(signed, 32);
    return new Member(identity, key, identity.sign(Domain.MEMBER_CARD_SIGNATURE, signed));
  }

  static byte[] filled(int value) {
    byte[] bytes = new byte[32];
    Arrays.fill(bytes, (byte) value);
    return bytes;
  }

  static byte[] flipped(byte[] bytes, int index) {
    byte[] copy = bytes.clone();
    copy[index] ^= 0x01;
    return copy;
  }
}
