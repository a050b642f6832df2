package dev.capsulevm.vm.members;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * The {@link CapsuleMembers} of the capsules a host used lately, at most a fixed number (least recently
 * used first out: a capsule dropped is rebuilt from its metadata and store on its next use). Thread-safe.
 */
public final class MemberCache {
  /** How many capsules a host's cache keeps by default. */
  public static final int DEFAULT_CAPSULES = 1024;

  private final Map<Hash, CapsuleMembers> byCapsule;

  public MemberCache() {
    this(DEFAULT_CAPSULES);
  }

  public MemberCache(int capsules) {
    if (capsules < 1) {
      throw new IllegalArgumentException("a member cache keeps at least 1 capsule, got " + capsules);
    }
    this.byCapsule = new LinkedHashMap<>(16, 0.75f, true) {
      @Override
      protected boolean removeEldestEntry(Map.Entry<Hash, CapsuleMembers> eldest) {
        return size() > capsules;
      }
    };
  }

  /** The members of the capsule {@code metadata} roots, kept or made now. */
  public CapsuleMembers of(SignedMetadata metadata) {
    Objects.requireNonNull(metadata, "metadata");
    synchronized (byCapsule) {
      return byCapsule.computeIfAbsent(metadata.capsuleId(), id -> new CapsuleMembers(metadata));
    }
  }
}
