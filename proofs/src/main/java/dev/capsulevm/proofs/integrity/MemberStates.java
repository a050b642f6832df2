package dev.capsulevm.proofs.integrity;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.members.MemberState;
import org.jspecify.annotations.Nullable;

/**
 * The member state before each record of a version-2 capsule, which {@link ProofGenerator} needs to
 * prove a record's writer's entry. A host answers it from its capsule's {@code Membership}:
 * {@code hash -> membership.stateBefore(header(hash).authParents(), changelog)}.
 */
@FunctionalInterface
public interface MemberStates {
  /** Answers null for every record: for version-1 capsules, whose proofs carry no member entry. */
  MemberStates NONE = hash -> null;

  /** The member state before record {@code recordHash}, or null when unknown. */
  @Nullable MemberState stateBeforeOrNull(Hash recordHash);
}
