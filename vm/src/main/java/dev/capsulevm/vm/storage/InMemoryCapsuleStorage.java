package dev.capsulevm.vm.storage;

import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.AmountOverflowException;
import dev.capsulevm.pricing.InMemoryLedger;
import dev.capsulevm.pricing.PricingException;
import dev.capsulevm.pricing.Settlement;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.Record;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.RecordKind;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.merkle.MerkleTree;
import dev.capsulevm.vm.storage.StorageException.Reason;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.TreeSet;
import org.jspecify.annotations.Nullable;

/**
 * Capsule storage in memory, for tests and tools. Committed state is immutable and replaced whole by
 * each commit (copy-on-write, O(stored records) per commit), so a snapshot keeps the state it opened
 * with and never sees a later commit. Commits are serialized.
 *
 * <p>Constructed with an {@link InMemoryLedger}, it applies a batch's {@link Batch#settle settlements}
 * (and the storage credits of its drops) to that ledger under the commit lock, after every other write
 * of the batch was checked, so a refused batch settles nothing and a committed one everything it staged.
 */
public final class InMemoryCapsuleStorage implements CapsuleStorage {
  private volatile State state = new State(Map.of(), Map.of());
  private final @Nullable InMemoryLedger ledgerOrNull;

  /** A store that keeps no ledger: batches refuse settlements and credits. */
  public InMemoryCapsuleStorage() {
    this.ledgerOrNull = null;
  }

  /** A store whose batches settle in and credit {@code ledger} atomically with their writes. */
  public InMemoryCapsuleStorage(InMemoryLedger ledger) {
    this.ledgerOrNull = Objects.requireNonNull(ledger, "ledger");
  }

  /** The ledger settlements and credits go to, or null. */
  public @Nullable InMemoryLedger ledgerOrNull() {
    return ledgerOrNull;
  }

  /** The ledger settlements go to; a batch stages them only when there is one ({@link #newBatch}). */
  private InMemoryLedger ledger() {
    if (ledgerOrNull == null) {
      throw new IllegalStateException("this store keeps no ledger");
    }
    return ledgerOrNull;
  }

  /**
   * A committed record, its payloads and the Merkle tree over them (kept so proofs need no rehashing);
   * once dropped, no payloads and the witness; what its storage was paid with while it holds them.
   */
  private record Stored(Record record, List<byte[]> payloads, MerkleTree tree, @Nullable Hash witnessOrNull,
      @Nullable StoragePayment paymentOrNull) {}

  private record CapsuleState(
      SignedMetadata metadata, Map<Long, List<Hash>> byHeight, List<Hash> heads, List<Hash> membership) {}

  private record State(Map<Hash, CapsuleState> capsules, Map<Hash, Stored> records) {}

  @Override
  public Snapshot openSnapshot(Hash capsuleId) throws StorageException {
    Objects.requireNonNull(capsuleId, "capsuleId");
    State at = state;
    CapsuleState capsule = at.capsules().get(capsuleId);
    if (capsule == null) {
      throw new StorageException(Reason.UNKNOWN_CAPSULE, "no capsule " + capsuleId.toHex());
    }
    return new MemorySnapshot(capsuleId, capsule, at.records());
  }

  @Override
  public Batch newBatch() {
    return new StagedBatch(this::apply, ledgerOrNull != null);
  }

  @Override
  public boolean hasCapsule(Hash capsuleId) {
    return state.capsules().containsKey(capsuleId);
  }

  /** The ids of the stored capsules, sorted. */
  public List<Hash> capsuleIds() {
    return List.copyOf(new TreeSet<>(state.capsules().keySet()));
  }

  @Override
  public @Nullable RecordHeader headerByHashOrNull(Hash recordHash) {
    Record record = recordByHashOrNull(recordHash);
    return record == null ? null : record.header();
  }

  @Override
  public @Nullable Record recordByHashOrNull(Hash recordHash) {
    Stored stored = state.records().get(recordHash);
    return stored == null ? null : stored.record();
  }

  private synchronized void apply(List<StagedWrite> writes) throws StorageException {
    Commit commit = new Commit(state);
    for (StagedWrite write : writes) {
      write.applyTo(commit);
    }
    commit.apply();
  }

  /**
   * One commit being built: the writes are checked against copies of the state's maps, which replace the
   * state only once every write passed, so a refused batch changes nothing.
   */
  private final class Commit implements StagedWrite.Target {
    private final Map<Hash, CapsuleState> capsules;
    private final Map<Hash, Stored> records;
    private final List<Settlement> settlements = new ArrayList<>();
    private final Map<PublicKey, Amount> storageCredits = new HashMap<>();
    private final Map<Hash, TreeMap<Long, List<Hash>>> heightsInCommit = new HashMap<>();
    private final Map<Hash, TreeSet<Hash>> headsInCommit = new HashMap<>();
    private final Map<Hash, TreeSet<Hash>> membershipInCommit = new HashMap<>();

    Commit(State before) {
      capsules = new HashMap<>(before.capsules());
      records = new HashMap<>(before.records());
    }

    @Override
    public void createCapsule(SignedMetadata metadata) throws StorageException {
      Hash id = metadata.capsuleId();
      if (capsules.containsKey(id)) {
        throw new StorageException(Reason.CAPSULE_EXISTS, "capsule " + id.toHex() + " is already stored");
      }
      capsules.put(id, new CapsuleState(metadata, Map.of(), List.of(), List.of()));
    }

    @Override
    public void putRecord(RecordWithBody item, @Nullable StoragePayment paymentOrNull) throws StorageException {
      RecordHeader header = item.record().header();
      Hash id = header.capsuleId();
      CapsuleState capsule = capsules.get(id);
      if (capsule == null) {
        throw new StorageException(Reason.UNKNOWN_CAPSULE,
            "record " + item.hash().toHex() + " belongs to capsule " + id.toHex() + ", which is not stored");
      }
      if (records.containsKey(item.hash())) {
        return;
      }
      for (Hash parent : header.parents()) {
        Stored held = records.get(parent);
        boolean ok = parent.equals(id) || (held != null && held.record().header().capsuleId().equals(id));
        if (!ok) {
          throw new StorageException(Reason.MISSING_PARENT, "record " + item.hash().toHex() + " names parent "
              + parent.toHex() + ", which capsule " + id.toHex() + " does not hold");
        }
      }
      records.put(item.hash(), new Stored(item.record(), List.copyOf(item.payloads()), item.tree(), item.witnessOrNull(),
          item.isDropped() ? null : paymentOrNull));
      // Each capsule's indexes are copied once per commit (copy-on-write keeps open snapshots intact),
      // not once per record, so a commit of n records into a capsule of m costs O(m + n log m).
      TreeMap<Long, List<Hash>> byHeight =
          heightsInCommit.computeIfAbsent(id, k -> new TreeMap<>(capsule.byHeight()));
      TreeSet<Hash> atHeight = new TreeSet<>(byHeight.getOrDefault(header.height(), List.of()));
      atHeight.add(item.hash());
      byHeight.put(header.height(), List.copyOf(atHeight));
      TreeSet<Hash> heads = headsInCommit.computeIfAbsent(id, k -> new TreeSet<>(capsule.heads()));
      header.parents().forEach(heads::remove);
      heads.add(item.hash());
      TreeSet<Hash> membership = membershipInCommit.computeIfAbsent(id, k -> new TreeSet<>(capsule.membership()));
      if (header.kind() == RecordKind.MEMBERSHIP) {
        membership.add(item.hash());
      }
    }

    @Override
    public void dropPayloads(StagedWrite.DropPayloads drop) throws StorageException {
      Stored stored = records.get(drop.recordHash());
      if (stored == null || !stored.record().header().capsuleId().equals(drop.capsuleId())) {
        throw new StorageException(Reason.UNKNOWN_RECORD, "capsule " + drop.capsuleId().toHex()
            + " holds no record " + drop.recordHash().toHex() + " to drop the payloads of");
      }
      if (stored.record().header().kind() != RecordKind.DATA) {
        throw new StorageException(Reason.NOT_DROPPABLE, "record " + drop.recordHash().toHex()
            + " is a membership record, whose payload is never dropped");
      }
      if (stored.witnessOrNull() != null) {
        return;
      }
      records.put(drop.recordHash(), new Stored(stored.record(), List.of(), stored.tree(), drop.witness(), null));
      PublicKey account = drop.creditAccountOrNull();
      if (account != null && drop.credit().units() != 0) {
        Amount before = storageCredits.getOrDefault(account, Amount.of(0));
        try {
          storageCredits.put(account, before.plus(drop.credit()));
        } catch (AmountOverflowException e) {
          throw new StorageException(Reason.BALANCE_OVERFLOW, "crediting " + drop.credit().units() + " units to "
              + account + " overflows");
        }
      }
    }

    /** Kept for the end: a settlement is applied only after every other write of the batch was checked. */
    @Override
    public void settle(Settlement settlement) {
      settlements.add(settlement);
    }

    /** Checks the storage credits, settles, then replaces the state and pays the credits. */
    void apply() throws StorageException {
      for (Map.Entry<Hash, TreeMap<Long, List<Hash>>> touched : heightsInCommit.entrySet()) {
        Hash id = touched.getKey();
        // Every touched capsule was stored or created earlier in this batch.
        SignedMetadata metadata = Objects.requireNonNull(capsules.get(id)).metadata();
        capsules.put(id, new CapsuleState(metadata, Collections.unmodifiableMap(touched.getValue()),
            List.copyOf(headsInCommit.get(id)), List.copyOf(membershipInCommit.get(id))));
      }
      Map<PublicKey, Amount> after = new HashMap<>();
      for (Map.Entry<PublicKey, Amount> credit : storageCredits.entrySet()) {
        addChecked(after, credit.getKey(), credit.getValue());
      }
      if (!settlements.isEmpty()) {
        try {
          // All or none, before anything else is applied: a refused settlement leaves the store as it was.
          ledger().settleAll(settlements);
        } catch (PricingException e) {
          throw new StorageException(Reason.SETTLEMENT_REFUSED, String.valueOf(e.getMessage()));
        }
      }
      // Nothing below fails: settlements only lower balances, and the credits' overflow was ruled out above.
      state = new State(Collections.unmodifiableMap(capsules), Collections.unmodifiableMap(records));
      storageCredits.forEach((account, amount) -> ledger().credit(account, amount));
    }
  }

  /** Adds {@code amount} to {@code account}'s balance after the credits so far, refusing an overflow. */
  private void addChecked(Map<PublicKey, Amount> after, PublicKey account, Amount amount) throws StorageException {
    Amount before = after.computeIfAbsent(account, ledger()::balance);
    try {
      after.put(account, before.plus(amount));
    } catch (AmountOverflowException e) {
      throw new StorageException(Reason.BALANCE_OVERFLOW, "crediting " + amount.units() + " units to " + account
          + " overflows its balance of " + before.units());
    }
  }

  /**
   * Every stored entry as text, sorted, for tests that compare the whole store before and after: capsule
   * metadata, records with their payloads, heights and heads per capsule, and the ledger's snapshot when
   * the store keeps one.
   */
  public SortedMap<String, String> dump() {
    HexFormat hex = HexFormat.of();
    State at = state;
    SortedMap<String, String> out = new TreeMap<>();
    at.capsules().forEach((id, capsule) -> {
      out.put("metadata/" + id.toHex(), hex.formatHex(capsule.metadata().encoded()));
      capsule.byHeight().forEach((height, hashes) ->
          out.put("heights/" + id.toHex() + "/" + height, hashes.toString()));
      out.put("heads/" + id.toHex(), capsule.heads().toString());
      if (!capsule.membership().isEmpty()) {
        out.put("membership/" + id.toHex(), capsule.membership().toString());
      }
    });
    at.records().forEach((hash, stored) -> {
      Record record = stored.record();
      out.put("records/" + hash.toHex(), hex.formatHex(record.header().encoded()) + " sig "
          + (record.signatureOrNull() == null ? "-" : record.signatureOrNull().toString()));
      for (int i = 0; i < stored.payloads().size(); i++) {
        out.put("bodies/" + hash.toHex() + "/" + i, hex.formatHex(stored.payloads().get(i)));
      }
      if (stored.witnessOrNull() != null) {
        out.put("dropped/" + hash.toHex(), stored.witnessOrNull().toHex());
      }
      if (stored.paymentOrNull() != null) {
        out.put("payments/" + hash.toHex(), hex.formatHex(stored.paymentOrNull().encode()));
      }
    });
    if (ledgerOrNull != null) {
      out.put("ledger", hex.formatHex(ledgerOrNull.snapshot()));
    }
    return out;
  }

  private static final class MemorySnapshot implements Snapshot {
    private final Hash capsuleId;
    private final CapsuleState capsule;
    private final Map<Hash, Stored> records;
    private boolean closed;

    MemorySnapshot(Hash capsuleId, CapsuleState capsule, Map<Hash, Stored> records) {
      this.capsuleId = capsuleId;
      this.capsule = capsule;
      this.records = records;
    }

    private @Nullable Stored stored(Hash recordHash) {
      open();
      Stored stored = records.get(recordHash);
      return stored != null && stored.record().header().capsuleId().equals(capsuleId) ? stored : null;
    }

    private void open() {
      if (closed) {
        throw new IllegalStateException("snapshot of " + capsuleId.toHex() + " is closed");
      }
    }

    @Override
    public Hash capsuleId() {
      open();
      return capsuleId;
    }

    @Override
    public SignedMetadata metadata() {
      open();
      return capsule.metadata();
    }

    @Override
    public @Nullable RecordHeader headerOrNull(Hash recordHash) {
      Stored stored = stored(recordHash);
      return stored == null ? null : stored.record().header();
    }

    @Override
    public @Nullable Record recordOrNull(Hash recordHash) {
      Stored stored = stored(recordHash);
      return stored == null ? null : stored.record();
    }

    @Override
    public @Nullable List<byte[]> subRecordsOrNull(Hash recordHash) {
      Stored stored = stored(recordHash);
      return stored == null || stored.witnessOrNull() != null ? null : stored.payloads();
    }

    @Override
    public @Nullable Hash droppedWitnessOrNull(Hash recordHash) {
      Stored stored = stored(recordHash);
      return stored == null ? null : stored.witnessOrNull();
    }

    @Override
    public @Nullable StoragePayment paymentOrNull(Hash recordHash) {
      Stored stored = stored(recordHash);
      return stored == null ? null : stored.paymentOrNull();
    }

    @Override
    public @Nullable MerkleTree subRecordTreeOrNull(Hash recordHash) {
      Stored stored = stored(recordHash);
      return stored == null ? null : stored.tree();
    }

    @Override
    public List<Hash> recordsAtHeight(long height) {
      open();
      return capsule.byHeight().getOrDefault(height, List.of());
    }

    @Override
    public List<Hash> heads() {
      open();
      return capsule.heads();
    }

    @Override
    public List<Hash> membershipRecords() {
      open();
      return capsule.membership();
    }

    @Override
    public void close() {
      closed = true;
    }
  }
}
