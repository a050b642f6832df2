package dev.capsulevm.host.replication;

import dev.capsulevm.host.store.ReplicaStore;
import dev.capsulevm.host.sync.CodedSet;
import dev.capsulevm.host.sync.SessionKey;
import dev.capsulevm.host.sync.SetDigest;
import dev.capsulevm.host.sync.SyncDag;
import dev.capsulevm.host.sync.SyncRecord;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.capsule.Membership;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.RecordKind;
import dev.capsulevm.proofs.capsule.RecordSource;
import dev.capsulevm.proofs.capsule.RecordValidator;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import dev.capsulevm.proofs.crypto.Signature;
import dev.capsulevm.proofs.members.Changelog;
import dev.capsulevm.proofs.members.Op;
import dev.capsulevm.proofs.members.RetentionPolicy;
import dev.capsulevm.vm.members.CapsuleMembers;
import dev.capsulevm.vm.members.MemberCache;
import dev.capsulevm.vm.storage.Batch;
import dev.capsulevm.vm.storage.Snapshot;
import dev.capsulevm.vm.storage.StorageException;
import dev.capsulevm.vm.storage.StorageException.Reason;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * One sync session's view of one capsule held in a {@link ReplicaStore}: the stored records plus the
 * records the peer sent this session that are not stored yet (staged, in memory).
 *
 * <p>{@link #offer} checks a peer's record at once for everything that needs no other record (capsule,
 * writer, signature, body), then stages it. A staged record is <em>ready</em> when every ancestor is
 * stored or ready, and it is <em>vouched</em> when it is signed or (under the heartbeat policy) a ready
 * signed record descends from it. {@link #flush} validates the ready, vouched records exactly as a
 * renter's append ({@link RecordValidator#validateAppend}) and commits them in one batch; {@link #offer}
 * flushes by itself once they pass {@link Limits#commitBytes}. The rest stays staged until
 * {@link #close()} drops it: nothing unverified ever reaches the store.
 *
 * <p>The {@link SyncDag} methods see stored ∪ staged. Not thread-safe: one session uses it from one
 * thread at a time. Other sessions and renter appends may commit to the same capsule meanwhile; the
 * store ignores a record it already holds and moves its digest only for new ones, and this view drops
 * staged records it finds stored.
 */
public final class ReplicaDag implements SessionReplica {
  /**
   * Bounds on one session's staging.
   *
   * @param maxStagedRecords the most records staged at once
   * @param maxStagedBytes the most bytes staged at once (headers, signatures and payloads)
   * @param commitBytes ready bytes at which {@link #offer} commits them
   */
  public record Limits(int maxStagedRecords, long maxStagedBytes, long commitBytes) {
    public static final Limits DEFAULT = new Limits(1 << 20, 256L << 20, 8L << 20);

    public Limits {
      if (maxStagedRecords < 1 || maxStagedBytes < 1 || commitBytes < 1) {
        throw new IllegalArgumentException("limits must be positive: " + maxStagedRecords + ", " + maxStagedBytes
            + ", " + commitBytes);
      }
    }
  }

  /** What is known of one staged record. */
  private static final class Staged {
    final RecordWithBody body;
    final long bytes;
    /** Distinct parents neither stored nor ready. */
    int missing;
    boolean ready;
    boolean vouched;

    Staged(RecordWithBody body, long bytes) {
      this.body = body;
      this.bytes = bytes;
    }

    List<Hash> parents() {
      return body.record().header().parents();
    }
  }

  /** How many times {@link #digest()} re-reads the store while other commits keep moving it. */
  private static final int DIGEST_ATTEMPTS = 16;

  private final ReplicaStore store;
  private final Hash capsuleId;
  private final Limits limits;
  private final RecordValidator validator;
  /**
   * The append rules without verifying signatures again: {@link #offer} verified every signature, and
   * each record's signature covers its hash, which cannot change while it waits.
   */
  private final RecordValidator appendValidator;
  /** The capsule's validators and parsed membership records, shared with other sessions. */
  private final CapsuleMembers members;
  /** The coded symbols the host keeps for its peers, or null: none kept. */
  private final @Nullable CodedSets coded;

  private final Map<Hash, Staged> staged = new HashMap<>();
  /** How many staged records name each hash as a parent: what is not a head. */
  private final Map<Hash, Integer> stagedChildren = new HashMap<>();
  /** Staged records waiting for each parent that is neither stored nor ready. */
  private final Map<Hash, List<Hash>> waiting = new HashMap<>();
  /** Ready records in the order they became ready: each after its parents, so a topological order. */
  private final LinkedHashSet<Hash> readyOrder = new LinkedHashSet<>();
  /** Offered when not held, and not yet reported new by {@link #add}. */
  private final Set<Hash> unreported = new HashSet<>();
  private final SetDigest stagedDigest = new SetDigest();
  private long stagedBytes;
  private long readyBytes;
  private long committed;
  /** A store count at which no staged record was stored (see {@link #digest()}); -1 before any. */
  private long verifiedCount = -1;
  private boolean closed;

  /**
   * A view of capsule {@code capsuleId} in {@code store} for one session.
   *
   * @throws StorageException UNKNOWN_CAPSULE when the store does not hold the capsule
   */
  public ReplicaDag(ReplicaStore store, Hash capsuleId, Limits limits) throws StorageException {
    this(store, capsuleId, limits, new MemberCache(1));
  }

  /**
   * A view of capsule {@code capsuleId} in {@code store} for one session, taking the capsule's
   * validators and parsed membership records from {@code members} (a replicator's, shared by its
   * sessions).
   *
   * @throws StorageException UNKNOWN_CAPSULE when the store does not hold the capsule
   */
  public ReplicaDag(ReplicaStore store, Hash capsuleId, Limits limits, MemberCache members) throws StorageException {
    this(store, capsuleId, limits, members, null);
  }

  /**
   * A view of capsule {@code capsuleId} in {@code store} for one session, whose coded symbols under a
   * peer's standing key come from {@code coded} (a replicator's, kept for its peers) when it keeps them.
   *
   * @throws StorageException UNKNOWN_CAPSULE when the store does not hold the capsule
   */
  public ReplicaDag(ReplicaStore store, Hash capsuleId, Limits limits, MemberCache members,
      @Nullable CodedSets coded) throws StorageException {
    this.coded = coded;
    this.store = Objects.requireNonNull(store, "store");
    this.capsuleId = Objects.requireNonNull(capsuleId, "capsuleId");
    this.limits = Objects.requireNonNull(limits, "limits");
    SignedMetadata held = store.metadataOrNull(capsuleId);
    if (held == null) {
      throw new StorageException(Reason.UNKNOWN_CAPSULE, "no capsule " + capsuleId.toHex());
    }
    this.members = members.of(held);
    this.validator = this.members.validator(true);
    this.appendValidator = this.members.validator(false);
  }

  // ---- staging and committing

  /**
   * Takes a record the peer sent (the transport has checked its hash and parents against the turn).
   * A record already stored or staged is ignored. Otherwise it is checked for everything that needs no
   * other record and staged; if that makes the ready bytes pass {@link Limits#commitBytes}, they are
   * committed as by {@link #flush}, which may refuse an earlier record.
   *
   * @throws InvalidPeerRecordException when this record (or, through the commit, a ready one) breaks a rule
   * @throws StagingFullException when staging it would pass a limit; it is not staged
   * @throws StorageException when the commit is refused
   */
  @Override
  public void offer(RecordWithBody record)
      throws InvalidPeerRecordException, StagingFullException, StorageException {
    requireOpen();
    Objects.requireNonNull(record, "record");
    Hash id = record.hash();
    if (staged.containsKey(id)) {
      return;
    }
    if (store.holdsRecord(capsuleId, id)) {
      parentStored(id); // someone else stored it: whatever waited for it may be ready now
      flushWhenFull();
      return;
    }
    long bytes = sizeOf(record);
    if (staged.size() >= limits.maxStagedRecords()) {
      throw new StagingFullException("staging record " + id.toHex() + " would pass maxStagedRecords ("
          + limits.maxStagedRecords() + " records)");
    }
    if (stagedBytes + bytes > limits.maxStagedBytes()) {
      throw new StagingFullException("staging record " + id.toHex() + " (" + bytes + " bytes) would pass "
          + "maxStagedBytes (" + limits.maxStagedBytes() + " bytes, " + stagedBytes + " staged)");
    }
    // After the limits, which cost nothing: a flood is refused before any signature is checked.
    try {
      validator.validateDetached(record);
    } catch (VerificationException e) {
      throw new InvalidPeerRecordException(id, e);
    }
    Staged entry = new Staged(record, bytes);
    staged.put(id, entry);
    stagedBytes += bytes;
    stagedDigest.add(id);
    unreported.add(id);
    for (Hash parent : entry.parents()) {
      stagedChildren.merge(parent, 1, Integer::sum);
    }
    for (Hash parent : new LinkedHashSet<>(entry.parents())) {
      if (parent.equals(capsuleId)) {
        continue;
      }
      Staged p = staged.get(parent);
      if (p != null ? p.ready : store.holdsRecord(capsuleId, parent)) {
        continue;
      }
      entry.missing++;
      waiting.computeIfAbsent(parent, k -> new ArrayList<>()).add(id);
    }
    if (entry.missing == 0) {
      becomeReady(id);
    }
    flushWhenFull();
  }

  private void flushWhenFull() throws InvalidPeerRecordException, StorageException {
    if (readyBytes > limits.commitBytes()) {
      flush();
    }
  }

  /**
   * Commits, in one store batch, every staged record that is ready and vouched, after validating them
   * in topological order exactly as a renter's append against the capsule's stored records. Records a
   * concurrent commit stored meanwhile are skipped. Unready and unvouched records stay staged.
   *
   * @return how many records it stored (a record another commit stores between this validation and
   *     this commit is counted although the store kept the other copy)
   * @throws InvalidPeerRecordException naming the first record that breaks a rule; nothing is committed
   *     and everything stays staged, so the session should end
   * @throws StorageException when the store refuses the batch; nothing is committed
   */
  @Override
  public int flush() throws InvalidPeerRecordException, StorageException {
    requireOpen();
    recheckWaiting();
    List<Hash> readyIds = new ArrayList<>();
    for (Hash id : readyOrder) {
      if (stagedEntry(id).vouched) {
        readyIds.add(id);
      }
    }
    readyIds = witnessed(readyIds);
    if (readyIds.isEmpty()) {
      return 0;
    }
    List<RecordWithBody> fresh = new ArrayList<>(readyIds.size());
    try (Snapshot held = store.openSnapshot(capsuleId)) {
      for (Hash id : readyIds) {
        if (held.headerOrNull(id) == null) {
          fresh.add(stagedEntry(id).body);
        }
      }
      if (!fresh.isEmpty()) {
        // The objective rule only: each record is judged by the members before it. In topological order,
        // so a membership record of the batch counts for the records after it.
        Changelog changelog = members.changelog(held);
        try {
          appendValidator.validateAppend(fresh, held, changelog);
        } catch (VerificationException e) {
          throw refusal(fresh, held, changelog, e);
        }
        checkWitnesses(fresh, held, changelog);
      }
    }
    // The snapshot is closed before committing: the store grows its map only while none is open.
    if (!fresh.isEmpty()) {
      try (Batch batch = store.newBatch()) {
        for (RecordWithBody record : fresh) {
          batch.putRecord(record);
        }
        batch.commit();
      }
    }
    for (Hash id : readyIds) {
      unstage(id);
    }
    committed += fresh.size();
    return fresh.size();
  }

  /**
   * The ready records that can be committed now, in order: a dropped record waits, with every staged
   * record above it, until its witness is stored or among them (a witness usually descends from the
   * record, so it comes later in the same session).
   */
  private List<Hash> witnessed(List<Hash> readyIds) {
    Set<Hash> ok = new LinkedHashSet<>(readyIds);
    boolean changed = true;
    while (changed) {
      changed = false;
      for (Hash id : readyIds) {
        if (!ok.contains(id)) {
          continue;
        }
        Staged entry = stagedEntry(id);
        Hash witness = entry.body.witnessOrNull();
        boolean waits = witness != null && !ok.contains(witness) && !store.holdsRecord(capsuleId, witness);
        for (Hash parent : entry.parents()) {
          waits |= staged.containsKey(parent) && !ok.contains(parent);
        }
        if (waits) {
          ok.remove(id);
          changed = true;
        }
      }
    }
    return new ArrayList<>(ok);
  }

  /**
   * Each dropped record of {@code fresh} names a witness (held, or in {@code fresh}) whose member state's
   * retention policy lets its payloads go ({@link RetentionPolicy#letsDrop}); otherwise the peer dropped
   * payloads it had to keep, and the record is refused.
   */
  private void checkWitnesses(List<RecordWithBody> fresh, Snapshot held, Changelog heldOps)
      throws InvalidPeerRecordException {
    Map<Hash, RecordHeader> freshHeaders = new HashMap<>();
    Map<Hash, Op> freshOps = new HashMap<>();
    boolean any = false;
    for (RecordWithBody item : fresh) {
      RecordHeader header = item.record().header();
      freshHeaders.put(item.hash(), header);
      any |= item.isDropped();
      if (header.kind() == RecordKind.MEMBERSHIP) {
        try {
          // With its keystore block: the membership's caches key resolutions and epochs by frontier only.
          freshOps.put(item.hash(), Membership.opOf(item));
        } catch (VerificationException e) {
          throw new InvalidPeerRecordException(item.hash(), e); // validation parsed it already
        }
      }
    }
    Membership membership = members.membershipOrNull();
    if (!any) {
      return;
    }
    RecordSource view = hash -> {
      RecordHeader header = freshHeaders.get(hash);
      return header != null ? header : held.headerOrNull(hash);
    };
    Changelog ops = hash -> {
      Op op = freshOps.get(hash);
      return op != null ? op : heldOps.opOrNull(hash);
    };
    for (RecordWithBody item : fresh) {
      Hash witnessHash = item.witnessOrNull();
      if (witnessHash == null) {
        continue;
      }
      RecordHeader record = item.record().header();
      RecordHeader witness = view.headerOrNull(witnessHash);
      String refusal;
      if (membership == null) {
        refusal = "a version-1 capsule has no retention policy";
      } else if (witness == null) {
        refusal = "its witness " + witnessHash + " is not held"; // witnessed() let it through only when it is
      } else {
        RetentionPolicy policy = membership.stateBefore(witness.authParents(), ops).retention();
        refusal = policy.letsDrop(record.height(), record.timestampMillis(), witness.height(),
            witness.timestampMillis()) ? null
            : "the retention policy before its witness " + witnessHash + " (height " + witness.height() + ") is "
                + policy + ", which keeps it (height " + record.height() + ")";
      }
      if (refusal != null) {
        throw new InvalidPeerRecordException(item.hash(), new VerificationException(
            VerificationException.Failure.NOT_DROPPABLE, "record " + item.hash() + " arrived dropped, but " + refusal));
      }
    }
  }

  /** The record that made {@code failure} happen, found by validating the append one record at a time. */
  private InvalidPeerRecordException refusal(List<RecordWithBody> append, RecordSource held, Changelog heldOps,
      VerificationException failure) {
    Map<Hash, RecordHeader> before = new HashMap<>();
    RecordSource view = hash -> {
      RecordHeader header = before.get(hash);
      return header != null ? header : held.headerOrNull(hash);
    };
    Map<Hash, Op> opsBefore = new HashMap<>();
    Changelog ops = hash -> {
      Op op = opsBefore.get(hash);
      return op != null ? op : heldOps.opOrNull(hash);
    };
    for (RecordWithBody item : append) {
      try {
        Op op = validator.validateOp(item, view, ops, false);
        if (op != null) {
          opsBefore.put(item.hash(), op);
        }
      } catch (VerificationException e) {
        return new InvalidPeerRecordException(item.hash(), e);
      }
      before.put(item.hash(), item.record().header());
    }
    // Only the vouching rule is left, which staging never breaks; name the last record.
    return new InvalidPeerRecordException(append.get(append.size() - 1).hash(), failure);
  }

  /** Marks {@code id} ready, then every staged record that waited only for it, and so on. */
  private void becomeReady(Hash id) {
    ArrayDeque<Hash> work = new ArrayDeque<>();
    work.add(id);
    while (!work.isEmpty()) {
      Hash next = work.poll();
      Staged entry = stagedEntry(next);
      entry.ready = true;
      readyOrder.add(next);
      if (entry.body.record().isSigned()) {
        vouch(next);
      }
      release(next, work);
    }
  }

  /** Adds to {@code work} the staged records for which {@code parent} was the last missing parent. */
  private void release(Hash parent, ArrayDeque<Hash> work) {
    List<Hash> children = waiting.remove(parent);
    if (children == null) {
      return;
    }
    for (Hash child : children) {
      Staged entry = staged.get(child);
      if (entry != null && --entry.missing == 0) {
        work.add(child);
      }
    }
  }

  /** {@code parent} is stored now (by another commit): releases what waited for it. */
  private void parentStored(Hash parent) {
    ArrayDeque<Hash> work = new ArrayDeque<>();
    release(parent, work);
    for (Hash id : work) {
      becomeReady(id);
    }
  }

  /** A ready signed record vouches for itself and its staged ancestors (all ready, as it is). */
  private void vouch(Hash signed) {
    ArrayDeque<Hash> work = new ArrayDeque<>();
    work.add(signed);
    while (!work.isEmpty()) {
      Staged entry = staged.get(work.pop());
      if (entry == null || entry.vouched) {
        continue;
      }
      entry.vouched = true;
      readyBytes += entry.bytes;
      work.addAll(entry.parents());
    }
  }

  /** Releases records waiting for parents that another commit has stored since. */
  private void recheckWaiting() {
    for (Hash parent : new ArrayList<>(waiting.keySet())) {
      if (!staged.containsKey(parent) && store.holdsRecord(capsuleId, parent)) {
        parentStored(parent);
      }
    }
  }

  /** Drops staged records the store holds now (another session or a renter stored them). */
  private void pruneStored() {
    List<Hash> stored = new ArrayList<>();
    for (Hash id : staged.keySet()) {
      if (store.holdsRecord(capsuleId, id)) {
        stored.add(id);
      }
    }
    for (Hash id : stored) {
      unstage(id);
    }
    for (Hash id : stored) {
      parentStored(id);
    }
  }

  private void unstage(Hash id) {
    Staged entry = Objects.requireNonNull(staged.remove(id), "only a staged record is unstaged");
    stagedBytes -= entry.bytes;
    stagedDigest.remove(id);
    if (entry.vouched) {
      readyBytes -= entry.bytes;
    }
    readyOrder.remove(id);
    for (Hash parent : entry.parents()) {
      stagedChildren.compute(parent, (k, n) -> n == 1 ? null : n - 1);
    }
  }

  /** The entry of {@code id}, which the caller knows is staged. */
  private Staged stagedEntry(Hash id) {
    return Objects.requireNonNull(staged.get(id), "only staged records are made ready or committed");
  }

  private static long sizeOf(RecordWithBody record) {
    long bytes = 1L + record.record().header().encodedLength()
        + (record.record().isSigned() ? Signature.LENGTH : 0);
    if (record.isDropped()) {
      return bytes + (long) Hash.LENGTH * (record.subRecordCount() + 1); // the leaf hashes and the witness
    }
    for (byte[] payload : record.payloads()) {
      bytes += payload.length;
    }
    return bytes;
  }

  // ---- the sending side and accounting

  /** Record {@code id} with its body, stored or staged, or null when this view has no such record. */
  @Override
  public @Nullable RecordWithBody recordOrNull(Hash id) {
    requireOpen();
    Staged entry = staged.get(id);
    return entry != null ? entry.body : store.recordWithBodyOrNull(capsuleId, id);
  }

  /** How many records this view has committed. */
  @Override
  public long committed() {
    return committed;
  }

  /** How many records are staged now. */
  @Override
  public int staged() {
    return staged.size();
  }

  /** Drops every staged record; the store keeps only what was committed. Closing twice does nothing. */
  @Override
  public void close() {
    closed = true;
    staged.clear();
    stagedChildren.clear();
    waiting.clear();
    readyOrder.clear();
    unreported.clear();
    stagedBytes = 0;
    readyBytes = 0;
  }

  private void requireOpen() {
    if (closed) {
      throw new IllegalStateException("the replica view of " + capsuleId.toHex() + " is closed");
    }
  }

  // ---- SyncDag: stored ∪ staged

  @Override
  public Hash root() {
    return capsuleId;
  }

  @Override
  public boolean contains(Hash id) {
    requireOpen();
    return staged.containsKey(id) || store.holdsRecord(capsuleId, id);
  }

  @Override
  public @Nullable List<Hash> parents(Hash id) {
    requireOpen();
    Staged entry = staged.get(id);
    return entry != null ? entry.parents() : store.parentsOrNull(capsuleId, id);
  }

  /**
   * Stored heads no staged record names, and staged records no staged record names (unless the store
   * holds them by now: then they count as stored), sorted.
   */
  @Override
  public List<Hash> heads() {
    requireOpen();
    TreeSet<Hash> out = new TreeSet<>();
    for (Hash head : store.heads(capsuleId)) {
      if (!stagedChildren.containsKey(head)) {
        out.add(head);
      }
    }
    for (Hash id : staged.keySet()) {
      if (!stagedChildren.containsKey(id) && !store.holdsRecord(capsuleId, id)) {
        out.add(id);
      }
    }
    return new ArrayList<>(out);
  }

  @Override
  public long count() {
    return digest().count();
  }

  /**
   * The stored digest plus the staged ids. The store's count moves with every commit to the capsule,
   * so while it stays where it was when no staged record was stored, the sum counts each record once;
   * when it moved, staged records stored meanwhile are dropped first (one lookup per staged record).
   * Under a continual stream of other commits it gives up after a few rounds and may count a record
   * twice, which only makes a quick check fail.
   */
  @Override
  public SetDigest digest() {
    requireOpen();
    SetDigest stored = storedDigest();
    if (staged.isEmpty()) {
      verifiedCount = stored.count();
      return stored;
    }
    for (int attempt = 0; attempt < DIGEST_ATTEMPTS && stored.count() != verifiedCount; attempt++) {
      pruneStored();
      SetDigest after = storedDigest();
      if (after.count() == stored.count()) {
        verifiedCount = after.count();
      }
      stored = after;
    }
    stored.addAll(stagedDigest);
    return stored;
  }

  private SetDigest storedDigest() {
    try {
      return store.digest(capsuleId);
    } catch (StorageException e) {
      // The store never deletes a capsule, and this one was held when the view opened.
      throw new IllegalStateException(e.getMessage(), e);
    }
  }

  /**
   * The stored records' symbols kept under {@code key}, or null: none kept, or records are staged (the
   * kept set is the store's, and this view holds more).
   */
  @Override
  public CodedSet.@Nullable Snapshot codedSnapshot(SessionKey key) {
    requireOpen();
    CodedSets sets = coded;
    if (sets == null || !staged.isEmpty()) {
      return null;
    }
    try {
      return sets.snapshot(capsuleId, key);
    } catch (StorageException e) {
      // The store never deletes a capsule, and this one was held when the view opened.
      throw new IllegalStateException(e.getMessage(), e);
    }
  }

  @Override
  public void forEachId(Consumer<Hash> action) {
    byte[] bytes = new byte[Hash.LENGTH];
    forEachIdLimbs((l0, l1, l2, l3) -> {
      ByteBuffer.wrap(bytes).putLong(l0).putLong(l1).putLong(l2).putLong(l3);
      action.accept(Hash.copyOf(bytes));
    });
  }

  /**
   * The stored ids (read in one store transaction), then the staged ids that transaction did not show.
   * The stored ids are matched against the staged ones by binary search over their limbs, so no object
   * is made per stored id and a record stored by another commit meanwhile is given once.
   */
  @Override
  public void forEachIdLimbs(LimbConsumer action) {
    requireOpen();
    if (staged.isEmpty()) {
      store.forEachRecordId(capsuleId, action);
      return;
    }
    Hash[] ids = staged.keySet().toArray(new Hash[0]);
    Arrays.sort(ids); // unsigned byte order, which is unsigned limb order
    int n = ids.length;
    long[] limbs = new long[4 * n];
    byte[] bytes = new byte[Hash.LENGTH];
    for (int i = 0; i < n; i++) {
      ids[i].copyTo(bytes, 0);
      ByteBuffer b = ByteBuffer.wrap(bytes);
      for (int l = 0; l < 4; l++) {
        limbs[4 * i + l] = b.getLong();
      }
    }
    boolean[] stored = new boolean[n];
    store.forEachRecordId(capsuleId, (l0, l1, l2, l3) -> {
      int at = find(limbs, n, l0, l1, l2, l3);
      if (at >= 0) {
        stored[at] = true;
      }
      action.accept(l0, l1, l2, l3);
    });
    for (int i = 0; i < n; i++) {
      if (!stored[i]) {
        action.accept(limbs[4 * i], limbs[4 * i + 1], limbs[4 * i + 2], limbs[4 * i + 3]);
      }
    }
  }

  /** The index of the id among {@code n} sorted ids of four limbs each, or -1. */
  private static int find(long[] limbs, int n, long l0, long l1, long l2, long l3) {
    int lo = 0;
    int hi = n - 1;
    while (lo <= hi) {
      int mid = (lo + hi) >>> 1;
      int at = 4 * mid;
      int c = Long.compareUnsigned(limbs[at], l0);
      if (c == 0) {
        c = Long.compareUnsigned(limbs[at + 1], l1);
      }
      if (c == 0) {
        c = Long.compareUnsigned(limbs[at + 2], l2);
      }
      if (c == 0) {
        c = Long.compareUnsigned(limbs[at + 3], l3);
      }
      if (c == 0) {
        return mid;
      } else if (c < 0) {
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return -1;
  }

  /**
   * Whether {@code record} is new to this view: true exactly once for each record offered this session
   * that the store did not hold when it was offered, false for a record held or already reported.
   *
   * @throws IllegalStateException when the record was never offered and is not held (offer it first)
   * @throws IllegalArgumentException when its parents are not those of the record offered
   */
  @Override
  public boolean add(SyncRecord record) {
    requireOpen();
    Hash id = record.id();
    Staged entry = staged.get(id);
    if (entry != null && !entry.parents().equals(record.parents())) {
      throw new IllegalArgumentException("record " + id.toHex() + " was offered with other parents");
    }
    if (unreported.remove(id)) {
      return true;
    }
    if (entry != null || store.holdsRecord(capsuleId, id)) {
      return false;
    }
    throw new IllegalStateException("record " + id.toHex() + " was never offered to this session");
  }
}
