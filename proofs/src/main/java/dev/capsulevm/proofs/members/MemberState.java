package dev.capsulevm.proofs.members;

import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.Sha256;
import dev.capsulevm.proofs.capsule.Metadata;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.merkle.InclusionProof;
import dev.capsulevm.proofs.merkle.MerkleTree;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.SortedMap;
import java.util.TreeMap;
import org.jspecify.annotations.Nullable;

/**
 * Who the members of a capsule are and what each may do, with the retention policy: an immutable sorted
 * map from key to non-zero bits. Its {@link #root()} commits to all of it (docs/FORMAT.md, "Members"):
 * the entries {@code 0x40 || key || bits}, sorted by key, are the leaves of an RFC 9162 tree, and the
 * member root is {@code H(0x41 || retention mode || retention value || entries root)}.
 */
public final class MemberState {
  /** Length of one entry: tag, key, bits. */
  static final int ENTRY_LENGTH = 1 + PublicKey.LENGTH + 1;

  private final SortedMap<PublicKey, Integer> members;
  private final RetentionPolicy retention;
  /** Built on first use (roots and proofs); a race builds it twice, which is harmless. */
  private volatile @Nullable MerkleTree tree;

  private MemberState(SortedMap<PublicKey, Integer> members, RetentionPolicy retention) {
    this.members = Collections.unmodifiableSortedMap(members);
    this.retention = retention;
  }

  /**
   * The state at a version-2 capsule's genesis: the creator holds {@link Rights#ALL}, every listed writer
   * its bits, retention none.
   *
   * @throws IllegalArgumentException when the creator is listed, or a writer's bits are 0, hold
   *     superadmin, or hold undefined bits (version-2 metadata refuses all of these)
   */
  public static MemberState genesis(PublicKey creator, Map<PublicKey, Integer> writers) {
    Objects.requireNonNull(creator, "creator");
    Objects.requireNonNull(writers, "writers");
    TreeMap<PublicKey, Integer> members = new TreeMap<>();
    for (Map.Entry<PublicKey, Integer> writer : writers.entrySet()) {
      PublicKey key = Objects.requireNonNull(writer.getKey(), "writer");
      int bits = Objects.requireNonNull(writer.getValue(), "bits");
      if (key.equals(creator)) {
        throw new IllegalArgumentException("the creator is a member by definition and is not listed");
      }
      if (bits == 0 || (bits & ~Rights.ALL) != 0 || (bits & Rights.SUPERADMIN) != 0) {
        throw new IllegalArgumentException(
            "writer " + key.toHex() + " has bits " + Rights.hex(bits)
                + "; a listed writer's bits are non-zero, within 0x33 and without superadmin");
      }
      members.put(key, bits);
    }
    members.put(creator, Rights.ALL);
    return new MemberState(members, RetentionPolicy.NONE);
  }

  /** The genesis state of a capsule with version-2 metadata: {@link #genesis(PublicKey, Map)} of its creator and writers. */
  public static MemberState genesis(Metadata metadata) {
    Objects.requireNonNull(metadata, "metadata");
    return genesis(metadata.creator(), metadata.writers());
  }

  /** This state with {@code member}'s bits set to {@code bits}; 0 removes the member. */
  public MemberState withMember(PublicKey member, int bits) {
    Objects.requireNonNull(member, "member");
    if ((bits & ~Rights.ALL) != 0) {
      throw new IllegalArgumentException("member bits " + Rights.hex(bits) + " outside " + Rights.hex(Rights.ALL));
    }
    if (bitsOf(member) == bits) {
      return this;
    }
    TreeMap<PublicKey, Integer> next = new TreeMap<>(members);
    if (bits == 0) {
      next.remove(member);
    } else {
      next.put(member, bits);
    }
    return new MemberState(next, retention);
  }

  /** This state with the retention policy {@code policy}. */
  public MemberState withRetention(RetentionPolicy policy) {
    Objects.requireNonNull(policy, "policy");
    return policy.equals(retention) ? this : new MemberState(new TreeMap<>(members), policy);
  }

  /** {@code member}'s bits, 0 when it is not a member. */
  public int bitsOf(PublicKey member) {
    Integer bits = members.get(member);
    return bits == null ? 0 : bits;
  }

  /** Every member and its (non-zero) bits, ascending by key. */
  public SortedMap<PublicKey, Integer> members() {
    return members;
  }

  public RetentionPolicy retention() {
    return retention;
  }

  /** The member root: {@code H(0x41 || retention mode u8 || retention value u64 || entries root)}. */
  public Hash root() {
    return memberRoot(retention, tree().root());
  }

  /** The RFC 9162 root over the entries, ascending by key. */
  public Hash entriesRoot() {
    return tree().root();
  }

  /** The proof of {@code member}'s entry in {@link #root()}, or null when it is not a member. */
  public @Nullable MemberEntryProof entryProofOrNull(PublicKey member) {
    Objects.requireNonNull(member, "member");
    Integer bits = members.get(member);
    if (bits == null) {
      return null;
    }
    int index = members.headMap(member).size();
    InclusionProof path = tree().inclusionProof(index);
    return new MemberEntryProof(bits, retention, index, members.size(), path.path());
  }

  /** The entry bytes {@code 0x40 || key || bits}. */
  static byte[] entry(PublicKey key, int bits) {
    byte[] out = new byte[ENTRY_LENGTH];
    out[0] = Domain.MEMBER_ENTRY.tag();
    key.copyTo(out, 1);
    out[ENTRY_LENGTH - 1] = (byte) bits;
    return out;
  }

  /** {@code H(0x41 || mode || value || entriesRoot)}. */
  static Hash memberRoot(RetentionPolicy retention, Hash entriesRoot) {
    ByteBuffer body = ByteBuffer.allocate(1 + 8 + Hash.LENGTH);
    body.put((byte) retention.mode().code()).putLong(retention.value()).put(entriesRoot.toByteArray());
    return Sha256.hash(Domain.MEMBER_ROOT, body.array());
  }

  private MerkleTree tree() {
    MerkleTree built = tree;
    if (built == null) {
      List<byte[]> entries = new ArrayList<>(members.size());
      members.forEach((key, bits) -> entries.add(entry(key, bits)));
      built = MerkleTree.ofLeaves(entries);
      tree = built;
    }
    return built;
  }

  @Override
  public boolean equals(@Nullable Object o) {
    return o instanceof MemberState other && members.equals(other.members) && retention.equals(other.retention);
  }

  @Override
  public int hashCode() {
    return 31 * members.hashCode() + retention.hashCode();
  }

  @Override
  public String toString() {
    StringBuilder out = new StringBuilder("MemberState[");
    members.forEach((key, bits) -> out.append(key.toHex(), 0, 16).append("=").append(Rights.hex(bits)).append(", "));
    return out.append("retention=").append(retention).append("]").toString();
  }
}
