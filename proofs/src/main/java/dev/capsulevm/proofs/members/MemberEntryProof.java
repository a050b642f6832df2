package dev.capsulevm.proofs.members;

import dev.capsulevm.proofs.CanonicalReader;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.VerificationException.Failure;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.merkle.InclusionProof;
import dev.capsulevm.proofs.merkle.Merkle;
import dev.capsulevm.proofs.merkle.MerkleVerifier;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Proof of one member's entry in a member root (docs/FORMAT.md, "Members"): the member's bits, the
 * state's retention policy, and the RFC 9162 inclusion path of the entry {@code 0x40 || key || bits}
 * among the state's entries. The key is not carried: the verifier supplies it (a record's writer).
 *
 * @param bits the member's bits, non-zero and within {@link Rights#ALL}
 * @param index the entry's position among the entries, ascending by key
 * @param count how many entries the state has, 1 to 2^32 - 1
 * @param path the inclusion path, leaf sibling first, at most 255 hashes
 */
public record MemberEntryProof(int bits, RetentionPolicy retention, long index, long count, List<Hash> path) {
  /** Most hashes a path may hold (its length is one byte). */
  public static final int MAX_PATH = 255;

  /** @throws IllegalArgumentException naming the field that is out of range */
  public MemberEntryProof {
    Objects.requireNonNull(retention, "retention");
    path = List.copyOf(Objects.requireNonNull(path, "path"));
    if (bits == 0 || (bits & ~Rights.ALL) != 0) {
      throw new IllegalArgumentException("entry bits " + Rights.hex(bits) + " are 0 or outside 0x33");
    }
    if (count < 1 || count > 0xffffffffL) {
      throw new IllegalArgumentException("entry count must be 1 to 2^32 - 1, got " + count);
    }
    if (index < 0 || index >= count) {
      throw new IllegalArgumentException("entry index " + index + " is not below the entry count " + count);
    }
    if (path.size() > MAX_PATH) {
      throw new IllegalArgumentException("a path holds at most 255 hashes, got " + path.size());
    }
  }

  /**
   * Parses the canonical bytes.
   *
   * @throws VerificationException {@link Failure#MALFORMED_ENCODING} naming what is wrong
   */
  public static MemberEntryProof parse(byte[] bytes) throws VerificationException {
    Objects.requireNonNull(bytes, "bytes");
    CanonicalReader in = new CanonicalReader(bytes, "member entry proof");
    int bits = in.u8("bits");
    if (bits == 0 || (bits & ~Rights.ALL) != 0) {
      throw new VerificationException(
          Failure.MALFORMED_ENCODING, "member entry proof bits " + Rights.hex(bits) + " are 0 or outside 0x33");
    }
    RetentionPolicy retention = RetentionPolicy.read(in);
    long index = in.u32("entry index");
    long count = in.u32("entry count");
    if (index >= count) {
      throw new VerificationException(
          Failure.MALFORMED_ENCODING,
          "member entry proof index " + index + " is not below its entry count " + count);
    }
    int length = in.u8("path length");
    List<Hash> path = new ArrayList<>(length);
    for (int i = 0; i < length; i++) {
      path.add(in.hash("path hash " + i));
    }
    in.end();
    return new MemberEntryProof(bits, retention, index, count, path);
  }

  /** The length of {@link #encode()}. */
  public int encodedLength() {
    return 19 + Hash.LENGTH * path.size();
  }

  /** The canonical bytes: {@code bits || mode || value || index u32 || count u32 || L || path}. */
  public byte[] encode() {
    ByteBuffer out = ByteBuffer.allocate(encodedLength());
    out.put((byte) bits).put((byte) retention.mode().code()).putLong(retention.value());
    out.putInt((int) index).putInt((int) count).put((byte) path.size());
    for (Hash hash : path) {
      out.put(hash.toByteArray());
    }
    return out.array();
  }

  /**
   * Checks that {@code member} holds {@link #bits()} in the state whose root is {@code memberRoot}, and
   * returns those bits.
   *
   * @throws VerificationException {@link Failure#BROKEN_PATH} when the path does not fit the index and
   *     count or does not lead to {@code memberRoot}
   */
  public int verify(PublicKey member, Hash memberRoot) throws VerificationException {
    Objects.requireNonNull(member, "member");
    Objects.requireNonNull(memberRoot, "memberRoot");
    Hash leaf = Merkle.leafHash(MemberState.entry(member, bits));
    Hash entriesRoot;
    try {
      entriesRoot = MerkleVerifier.inclusionRoot(leaf, new InclusionProof(index, count, path));
    } catch (VerificationException e) {
      throw new VerificationException(
          Failure.BROKEN_PATH, "member entry proof for " + member.toHex() + ": " + e.getMessage(), e);
    }
    Hash computed = MemberState.memberRoot(retention, entriesRoot);
    if (!computed.equals(memberRoot)) {
      throw new VerificationException(
          Failure.BROKEN_PATH,
          "member entry proof for " + member.toHex() + " with bits " + Rights.hex(bits)
              + " leads to member root " + computed.toHex() + ", not " + memberRoot.toHex());
    }
    return bits;
  }
}
