package dev.capsulevm.proofs.members;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.crypto.PublicKey;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;

/**
 * A membership record as the resolver sees it: its hash, height, auth parents (the membership records
 * it was written after), its writer and the change its sub-record 0 makes.
 */
public record Op(Hash hash, long height, List<Hash> authParents, PublicKey author, MemberChange change) {
  /** The resolution order: height ascending, then record hash ascending (a topological order). */
  public static final Comparator<Op> ORDER = Comparator.comparingLong(Op::height).thenComparing(Op::hash);

  public Op {
    Objects.requireNonNull(hash, "hash");
    authParents = List.copyOf(Objects.requireNonNull(authParents, "authParents"));
    Objects.requireNonNull(author, "author");
    Objects.requireNonNull(change, "change");
  }
}
