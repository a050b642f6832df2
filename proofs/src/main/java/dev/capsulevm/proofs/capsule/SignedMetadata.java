package dev.capsulevm.proofs.capsule;

import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.CanonicalReader;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.Sha256;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.VerificationException.Failure;
import dev.capsulevm.proofs.crypto.Signature;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proofs.members.Keystore;
import java.util.Arrays;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * Metadata signed by its creator: the root of a capsule. The capsule id is {@code SHA-256(0x10 ||
 * metadata body || signature)}, so whoever knows the id can check any copy of the metadata.
 */
public final class SignedMetadata {
  private final Metadata metadata;
  private final Signature signature;
  private final byte[] encoded;
  private final Hash capsuleId;

  private SignedMetadata(Metadata metadata, Signature signature) {
    this.metadata = metadata;
    this.signature = signature;
    byte[] body = metadata.encodedUnsafe();
    this.encoded = Arrays.copyOf(body, body.length + Signature.LENGTH);
    signature.copyTo(encoded, body.length);
    this.capsuleId = Sha256.hash(Domain.CAPSULE_ID, encoded);
  }

  /**
   * Signs {@code metadata} with its creator's key.
   *
   * @throws IllegalArgumentException if {@code creatorKey} is not the metadata's creator
   */
  public static SignedMetadata sign(Metadata metadata, SigningKey creatorKey) {
    Objects.requireNonNull(metadata, "metadata");
    if (!creatorKey.publicKey().equals(metadata.creator())) {
      throw new IllegalArgumentException("the metadata names another creator: " + metadata.creator());
    }
    return new SignedMetadata(
        metadata, creatorKey.sign(Domain.METADATA_SIGNATURE, metadata.encodedUnsafe()));
  }

  /**
   * Parses signed metadata and checks the creator's signature.
   *
   * @throws VerificationException MALFORMED_ENCODING or BAD_SIGNATURE; BAD_KEYSTORE for a private capsule's
   *     genesis keystore block whose entries are not the genesis readers or whose cards do not verify
   */
  public static SignedMetadata parse(byte[] encoded) throws VerificationException {
    Objects.requireNonNull(encoded, "encoded");
    CanonicalReader in = new CanonicalReader(encoded, "metadata");
    Metadata metadata = Metadata.decode(in);
    Signature signature = in.signature("creator signature");
    in.end();
    if (!metadata.creator().verify(Domain.METADATA_SIGNATURE, metadata.encodedUnsafe(), signature)) {
      throw new VerificationException(
          Failure.BAD_SIGNATURE, "metadata signature does not verify under creator " + metadata.creator());
    }
    return new SignedMetadata(metadata, signature);
  }

  /**
   * Parses signed metadata that must have {@code expectedId}.
   *
   * @throws VerificationException WRONG_CAPSULE when the bytes hash to another id
   */
  public static SignedMetadata parse(byte[] encoded, Hash expectedId) throws VerificationException {
    SignedMetadata parsed = parse(encoded);
    if (!parsed.capsuleId.equals(expectedId)) {
      throw new VerificationException(
          Failure.WRONG_CAPSULE, "metadata hashes to " + parsed.capsuleId + ", expected " + expectedId);
    }
    return parsed;
  }

  public Metadata metadata() {
    return metadata;
  }

  /** Whether the capsule is private (metadata version 3). */
  public boolean isPrivate() {
    return metadata.isPrivate();
  }

  /** The genesis keystore block of a private capsule; null otherwise. */
  public @Nullable Keystore genesisKeystoreOrNull() {
    return metadata.genesisKeystoreOrNull();
  }

  public Signature signature() {
    return signature;
  }

  /** The capsule id: the hash of {@link #encoded()}. */
  public Hash capsuleId() {
    return capsuleId;
  }

  /** The canonical bytes: metadata body then the 64-byte signature (a copy). */
  public byte[] encoded() {
    return encoded.clone();
  }

  @Override
  public boolean equals(@Nullable Object o) {
    return o instanceof SignedMetadata other && capsuleId.equals(other.capsuleId);
  }

  @Override
  public int hashCode() {
    return capsuleId.hashCode();
  }

  @Override
  public String toString() {
    return "SignedMetadata[" + capsuleId + "]";
  }
}
