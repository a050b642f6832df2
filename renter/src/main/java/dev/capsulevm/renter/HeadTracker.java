package dev.capsulevm.renter;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.Record;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.renter.evidence.Claim;
import dev.capsulevm.renter.evidence.Evidence;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.TreeMap;
import org.jspecify.annotations.Nullable;

/**
 * The newest heads of one capsule that a renter verified, each with the host-signed claim that vouched
 * for it, and the rule for moving on: new heads are adopted only when every tracked head is among them or
 * proven below one of them. A tracked head the host no longer holds, or below which the host's heads all
 * lie, is a rollback, answered with {@link RollbackException} carrying the evidence; one the host holds
 * but places under none of its heads is misbehaviour. Heads on several branches are a fork: all are
 * kept and the update says so. Not thread-safe.
 */
public final class HeadTracker {
  /**
   * A verified head and the signed claim (a receipt and what it signed) that the host held it; null for a
   * head kept from before receipts carried claims, whose loss is reported without evidence.
   */
  public record VouchedHead(Record head, @Nullable Claim claimOrNull) {
    public VouchedHead {
      Objects.requireNonNull(head, "head");
    }

    public Hash hash() {
      return head.hash();
    }

    public long height() {
      return head.header().height();
    }
  }

  /** What the host says, in verified programs, about a tracked head that is no longer a head. */
  public interface Prober {
    /** Whether the host holds {@code record}, with the signed claim of its answer (a HasRecord entry). */
    Held has(Hash record) throws RenterException;

    /**
     * Whether the host proves {@code target} below {@code anchor} (a verified proof: true), or answers that
     * it is not below it (a verified NOT_FOUND failure: false).
     */
    boolean provesBelow(Hash target, RecordHeader anchor) throws RenterException;
  }

  /** The host's signed answer to whether it holds a record. */
  public record Held(boolean held, Claim claim) {}

  /**
   * The outcome of an accepted update.
   *
   * @param heads the heads now tracked, sorted by hash
   * @param forked whether they lie on more than one branch (the capsule needs a merge)
   * @param advanced the tracked heads that are heads no longer, each proven below a new one
   */
  public record Update(List<Record> heads, boolean forked, List<Hash> advanced) {
    public Update {
      heads = List.copyOf(heads);
      advanced = List.copyOf(advanced);
    }
  }

  private final Hash capsuleId;
  private final TreeMap<Hash, VouchedHead> heads = new TreeMap<>();

  /** A tracker that starts from {@code tracked} (empty when the renter has seen no head yet). */
  public HeadTracker(Hash capsuleId, Collection<VouchedHead> tracked) {
    this.capsuleId = Objects.requireNonNull(capsuleId, "capsuleId");
    for (VouchedHead v : tracked) {
      requireCapsule(v.head());
      heads.put(v.hash(), v);
    }
  }

  public Hash capsuleId() {
    return capsuleId;
  }

  /** The tracked heads with their claims, sorted by hash. */
  public List<VouchedHead> heads() {
    return List.copyOf(heads.values());
  }

  /**
   * Moves to {@code newHeads} (verified and writer-checked by the caller) after checking that none of the
   * tracked heads was lost, asking {@code prober} about each tracked head that is not among them.
   *
   * @throws RollbackException when the host's own signed answers show a tracked head dropped
   * @throws HostMisbehaviourException when the host holds a tracked head but places it under none of its heads
   */
  public Update advance(List<VouchedHead> newHeads, Prober prober) throws RenterException {
    TreeMap<Hash, VouchedHead> next = new TreeMap<>();
    for (VouchedHead v : newHeads) {
      requireCapsule(v.head());
      next.put(v.hash(), v);
    }
    List<Hash> advanced = new ArrayList<>();
    for (VouchedHead tracked : heads.values()) {
      if (next.containsKey(tracked.hash())) {
        continue;
      }
      requireDescendant(tracked, next.values(), prober);
      advanced.add(tracked.hash());
    }
    heads.clear();
    heads.putAll(next);
    List<Record> records = new ArrayList<>();
    next.values().forEach(v -> records.add(v.head()));
    return new Update(records, records.size() > 1, advanced);
  }

  private void requireDescendant(VouchedHead tracked, Collection<VouchedHead> newHeads, Prober prober)
      throws RenterException {
    List<VouchedHead> higher = new ArrayList<>();
    for (VouchedHead n : newHeads) {
      if (n.height() > tracked.height()) {
        higher.add(n);
      }
    }
    if (higher.isEmpty()) {
      // Every head is lower: the tracked record lies under none of them. The Heads claim says so itself
      // when the heads came from one Heads output (an entry); committed heads are shown by a denial below.
      VouchedHead any = newHeads.isEmpty() ? null : newHeads.iterator().next();
      Claim held = tracked.claimOrNull();
      if (held != null && any != null && any.claimOrNull() instanceof Claim.Entry heads) {
        throw new RollbackException(new Evidence(Evidence.Kind.ROLLBACK, capsuleId, tracked.head().header(), held,
            heads));
      }
    }
    Held held = prober.has(tracked.hash());
    if (!held.held()) {
      Claim vouched = tracked.claimOrNull();
      if (vouched == null) {
        throw new HostMisbehaviourException(HostMisbehaviourException.Part.OUTPUT, 0, "the host denies holding record "
            + tracked.hash() + ", which this renter verified as a head (no signed claim vouched for it: its append's"
            + " receipt was sealed, or it was kept without one; so no evidence)");
      }
      throw new RollbackException(new Evidence(Evidence.Kind.DENIED_RECORD, capsuleId, tracked.head().header(),
          vouched, held.claim()));
    }
    higher.sort(Comparator.comparingLong(VouchedHead::height).reversed());
    for (VouchedHead n : higher) {
      if (prober.provesBelow(tracked.hash(), n.head().header())) {
        return;
      }
    }
    throw new HostMisbehaviourException(HostMisbehaviourException.Part.OUTPUT, 0, "the host holds record "
        + tracked.hash() + " (height " + tracked.height() + "), which this renter verified as a head, but places it"
        + " under none of the heads it now names: its heads omit a branch");
  }

  private void requireCapsule(Record head) {
    if (!head.header().capsuleId().equals(capsuleId)) {
      throw new IllegalArgumentException("head " + head.hash() + " belongs to capsule " + head.header().capsuleId()
          + ", not " + capsuleId);
    }
  }
}
