package dev.capsulevm.vm.retention;

import dev.capsulevm.pricing.Amount;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.RecordKind;
import dev.capsulevm.proofs.members.MemberState;
import dev.capsulevm.proofs.members.RetentionPolicy;
import dev.capsulevm.vm.members.CapsuleMembers;
import dev.capsulevm.vm.members.MemberCache;
import dev.capsulevm.vm.storage.Batch;
import dev.capsulevm.vm.storage.CapsuleStorage;
import dev.capsulevm.vm.storage.Snapshot;
import dev.capsulevm.vm.storage.StorageException;
import dev.capsulevm.vm.storage.StoragePayment;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import org.jspecify.annotations.Nullable;

/**
 * Drops the payloads of a capsule's data records past its retention policy (docs/PROTOCOL.md,
 * "Retention"), a bounded amount of work per {@link #run}.
 *
 * <p>A run takes the capsule's highest head as the witness X (the greatest hash among heads of that
 * height) and the policy P of the member state before X, the one X's writer entry proves. It drops the
 * payloads of every data record R that P lets go, {@link RetentionPolicy#letsDrop} ({@code X.height >=
 * R.height + N}, or {@code X.timestamp >= R.timestamp + D} with X at least as high as R), naming X as the
 * witness, so that a reader can later check the drop from headers alone. Membership records are never
 * dropped. Headers, signatures and sub-record trees stay; the store reuses the space. For a record a
 * renter's program appended here, the storage paid for the payload bytes for the duration units not yet
 * begun is credited back to the payer ({@link StoragePayment#unusedPart}) in the same commit.
 *
 * <p>Work per run: records are examined from a per-capsule cursor (the lowest height not yet fully
 * dropped) upward, at most {@link Settings#maxExaminedPerRun} of them, and at most
 * {@link Settings#maxDropsPerRun} are dropped in one commit; {@link Run#more()} says whether records
 * remained. The cursor lives in memory: after a restart the first runs walk the dropped heights again,
 * cheaply. A record that arrives below the cursor (a peer's older branch) lowers it
 * ({@link #recordsArrived}). Version-1 capsules have no policy and are left alone. Thread-safe: runs are
 * serialized.
 */
public final class Retention {
  /**
   * How much one run does, and how long a duration unit is.
   *
   * @param maxDropsPerRun the most records whose payloads one run drops (one commit)
   * @param maxExaminedPerRun the most records one run looks at
   * @param durationUnitOrNull how long a duration unit lasts, for crediting unused storage; null credits
   *     nothing (the host states no length for the unit)
   */
  public record Settings(int maxDropsPerRun, int maxExaminedPerRun, @Nullable Duration durationUnitOrNull) {
    public static final Settings DEFAULT = new Settings(256, 4096, Duration.ofDays(30));

    public Settings {
      if (maxDropsPerRun < 1 || maxExaminedPerRun < 1) {
        throw new IllegalArgumentException("a run drops and examines at least 1 record: " + maxDropsPerRun + ", "
            + maxExaminedPerRun);
      }
      if (durationUnitOrNull != null && durationUnitOrNull.toMillis() < 1) {
        throw new IllegalArgumentException("a duration unit lasts at least 1 ms, got " + durationUnitOrNull);
      }
    }
  }

  /**
   * What one run did.
   *
   * @param dropped how many records' payloads it dropped
   * @param credited the storage it credited back to payers, in total
   * @param more whether it stopped at a bound with records left to look at
   */
  public record Run(int dropped, Amount credited, boolean more) {
    static final Run NOTHING = new Run(0, Amount.of(0), false);
  }

  private final CapsuleStorage storage;
  private final MemberCache members;
  private final Clock clock;
  private final Settings settings;
  /** Per capsule, the lowest height that may hold a record whose payloads are still to drop. */
  private final Map<Hash, Long> cursors = new ConcurrentHashMap<>();

  public Retention(CapsuleStorage storage, MemberCache members, Clock clock, Settings settings) {
    this.storage = Objects.requireNonNull(storage, "storage");
    this.members = Objects.requireNonNull(members, "members");
    this.clock = Objects.requireNonNull(clock, "clock");
    this.settings = Objects.requireNonNull(settings, "settings");
  }

  public Settings settings() {
    return settings;
  }

  /** Records arrived in the capsule at heights from {@code lowestHeight} up: the next run looks there too. */
  public void recordsArrived(Hash capsuleId, long lowestHeight) {
    cursors.compute(capsuleId, (id, cursor) -> cursor == null ? 1L : Math.min(cursor, Math.max(1, lowestHeight)));
  }

  /**
   * One bounded pass over capsule {@code capsuleId}: drops what its policy lets go, from the cursor up.
   *
   * @throws StorageException UNKNOWN_CAPSULE when it is not stored, or when the store refuses the commit
   *     (nothing of the run is applied)
   */
  public synchronized Run run(Hash capsuleId) throws StorageException {
    Objects.requireNonNull(capsuleId, "capsuleId");
    List<Planned> plan = new ArrayList<>();
    Hash witness;
    long cursor = cursors.getOrDefault(capsuleId, 1L);
    long nextCursor = cursor;
    boolean more;
    try (Snapshot snapshot = storage.openSnapshot(capsuleId)) {
      CapsuleMembers capsule = members.of(snapshot.metadata());
      RecordHeader top = highestHead(snapshot);
      if (capsule.membershipOrNull() == null || top == null) {
        return Run.NOTHING;
      }
      MemberState before = capsule.memberStates(snapshot, capsule.changelog(snapshot)).stateBeforeOrNull(top.hash());
      RetentionPolicy policy = Objects.requireNonNull(before, "a head has a state before it").retention();
      if (policy.mode() == RetentionPolicy.Mode.NONE) {
        return Run.NOTHING;
      }
      witness = top.hash();
      // Above this height nothing can qualify: keeping heights, R.height <= X.height - N; else R.height <= X.height.
      long highest = policy.mode() == RetentionPolicy.Mode.KEEP_HEIGHTS ? top.height() - policy.value() : top.height();
      int examined = 0;
      boolean doneBelow = true;
      long height = cursor;
      more = false;
      for (; height <= highest; height++) {
        boolean heightDone = true;
        for (Hash hash : snapshot.recordsAtHeight(height)) {
          if (examined >= settings.maxExaminedPerRun() || plan.size() >= settings.maxDropsPerRun()) {
            heightDone = false;
            more = true;
            break;
          }
          examined++;
          RecordHeader header = Objects.requireNonNull(snapshot.headerOrNull(hash), "an indexed record is held");
          if (header.kind() != RecordKind.DATA || header.subRecordCount() == 0
              || snapshot.droppedWitnessOrNull(hash) != null) {
            continue;
          }
          if (policy.letsDrop(header.height(), header.timestampMillis(), top.height(), top.timestampMillis())) {
            plan.add(new Planned(hash, snapshot.paymentOrNull(hash)));
          } else {
            heightDone = false;
          }
        }
        if (doneBelow && heightDone) {
          nextCursor = height + 1;
        } else {
          doneBelow = false;
        }
        if (more) {
          break;
        }
      }
    }
    Amount credited = Amount.of(0);
    if (!plan.isEmpty()) {
      long now = clock.millis();
      Duration unit = settings.durationUnitOrNull();
      try (Batch batch = storage.newBatch()) {
        for (Planned planned : plan) {
          StoragePayment payment = planned.paymentOrNull();
          Amount credit = payment == null || unit == null ? Amount.of(0) : payment.unusedPart(now, unit.toMillis());
          batch.dropPayloads(capsuleId, planned.hash(), witness, payment == null ? null : payment.payer(), credit);
          credited = credited.plus(credit);
        }
        batch.commit();
      }
    }
    long reached = nextCursor;
    cursors.merge(capsuleId, reached, (old, now) -> old < cursor ? old : now); // a lower arrival meanwhile wins
    return new Run(plan.size(), credited, more);
  }

  /** The head of the greatest height, the greatest hash among several; null before the first record. */
  private static @Nullable RecordHeader highestHead(Snapshot snapshot) {
    RecordHeader best = null;
    for (Hash head : snapshot.heads()) {
      RecordHeader header = Objects.requireNonNull(snapshot.headerOrNull(head), "a head is held");
      if (best == null || header.height() > best.height()
          || (header.height() == best.height() && header.hash().compareTo(best.hash()) > 0)) {
        best = header;
      }
    }
    return best;
  }

  private record Planned(Hash hash, @Nullable StoragePayment paymentOrNull) {}
}
