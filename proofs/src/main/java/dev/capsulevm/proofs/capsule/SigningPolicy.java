package dev.capsulevm.proofs.capsule;

import org.jspecify.annotations.Nullable;

/** Which records of a capsule carry a writer's signature; fixed by the metadata. */
public enum SigningPolicy {
  /** Every record is signed by its writer. */
  EVERY_RECORD(0),
  /**
   * Only the last record of each append is signed (a heartbeat); the others are vouched for by the hash
   * path from that signed record down to them. Cheaper writes; the same proofs.
   */
  HEARTBEAT(1);

  private final int code;

  SigningPolicy(int code) {
    this.code = code;
  }

  /** The byte that encodes this policy in metadata. */
  public int code() {
    return code;
  }

  static @Nullable SigningPolicy fromCode(int code) {
    for (SigningPolicy policy : values()) {
      if (policy.code == code) {
        return policy;
      }
    }
    return null;
  }
}
