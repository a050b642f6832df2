package dev.capsulevm.proofs.members;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.crypto.PublicKey;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A membership record as the resolver sees it: its hash, height, auth parents (the membership records
 * it was written after), its writer, the change its sub-record 0 makes and, in a private capsule, the
 * keystore block its sub-record 1 carries (null when it has none). The resolver reads only the change;
 * {@link Epochs} reads the keystore.
 */
public record Op(
    Hash hash, long height, List<Hash> authParents, PublicKey author, MemberChange change,
    @Nullable Keystore keystoreOrNull) {
  /** The resolution order: height ascending, then record hash ascending (a topological order). */
  public static final Comparator<Op> ORDER = Comparator.comparingLong(Op::height).thenComparing(Op::hash);

  public Op {
    Objects.requireNonNull(hash, "hash");
    authParents = List.copyOf(Objects.requireNonNull(authParents, "authParents"));
    Objects.requireNonNull(author, "author");
    Objects.requireNonNull(change, "change");
  }

  /** An op without a keystore block (every op of a capsule that is not private). */
  public Op(Hash hash, long height, List<Hash> authParents, PublicKey author, MemberChange change) {
    this(hash, height, authParents, author, change, null);
  }
}
