package dev.capsulevm.renter;

import dev.capsulevm.pricing.Amount;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.capsule.Metadata;
import dev.capsulevm.proofs.capsule.Permissions;
import dev.capsulevm.proofs.capsule.Record;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.RecordKind;
import dev.capsulevm.proofs.capsule.RecordSource;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import dev.capsulevm.proofs.capsule.SigningPolicy;
import dev.capsulevm.proofs.capsule.SkipPointers;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proofs.members.Changelog;
import dev.capsulevm.proofs.members.MemberChange;
import dev.capsulevm.proofs.members.Op;
import dev.capsulevm.proofs.members.Resolution;
import dev.capsulevm.proofs.members.RetentionPolicy;
import dev.capsulevm.proofs.members.Rights;
import dev.capsulevm.renter.evidence.Claim;
import io.grpc.Status;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * A capsule writer: knows the capsule's signed metadata and its writer key, builds and signs records
 * (one sub-record or many per record, several records per append, signed as the metadata's policy
 * says), and tracks the capsule's heads and the headers the next records' skip pointers need.
 *
 * <p>The tracked heads are the writer's view: they come from its own committed appends and from
 * {@link #refreshHeads}. An append expects the host to leave exactly the heads this writer computes.
 * When another writer appended since, the host's answer lists those heads too: the renter refuses that
 * commit, checks them with a verified {@code Heads} program ({@link AppendConflictException}), and this
 * writer adopts them, rebuilds its records on them and appends again, up to
 * {@link RenterOptions#appendRetries()} times. Any other disagreement is host misbehaviour and nothing is
 * committed. When the host commits a write and then misbehaves in its end, the writer adopts the
 * verified heads before {@link WriteCommittedException} reaches the caller, so its heads stay true.
 * Where the capsule has forked (replicas that took different appends, reconciled), {@link #merge} joins
 * the heads again.
 *
 * <p>A new capsule is version 2 (docs/FORMAT.md, "Members"): its creator is a member by definition, and
 * membership records ({@link #setMember}, {@link #removeMember}, {@link #setRetention}) change who may do
 * what. Before building records the writer makes sure it holds every membership record below its heads
 * ({@code ReadByHash} and {@code ReadSubRecord} of each one it lacks, verified, batched by level; none when
 * it holds them all, so a capsule without membership changes costs no extra program), checks each head's
 * member root and writer against them, builds records with their auth parents and member root, and refuses
 * locally a write its own view already forbids ({@link NotAllowedException}). Version-1 capsules keep their
 * fixed writers.
 *
 * <p><b>Pipelined appends.</b> {@link #submitAppend} builds and signs an append without waiting for the
 * ones before it: its records build on the last pending append's last record (or on the heads when none
 * is pending), and its program is sent as soon as that append holds the capsule at the host (its append
 * output verified), so it waits there and runs right after it. Each {@link PendingAppend} is settled in submission order: committed, or
 * failed with its own reason, or, when the append it builds on was not committed,
 * {@link AppendDependencyException} naming that one (nothing of it was written: its parent is not in the
 * capsule). The heads move only as appends settle. The synchronous operations ({@link #appendRecords},
 * {@link #refreshHeads}, {@link #merge}, member changes) refuse to run while appends are pending:
 * {@link #awaitAppends} settles them. Not thread-safe: submit and settle from one thread.
 */
public final class CapsuleWriter {
  /** How many verified headers the writer keeps for building skip pointers. */
  private static final int KNOWN_HEADERS = 4096;

  private final SignedMetadata metadata;
  private final SigningKey writerKey;
  /** The verified membership records of a version-2 capsule; null for version 1. */
  private final @Nullable MemberLog log;
  private final TreeMap<Hash, Record> heads = new TreeMap<>();
  /** Per tracked head, the host-signed claim that vouched for it (its commit's receipt, or a Heads output). */
  private final Map<Hash, Claim> claims = new HashMap<>();
  /** Pipelined appends submitted and not yet settled, oldest first. */
  private final ArrayDeque<PendingAppend> pipeline = new ArrayDeque<>();
  /** The headers of the records of {@link #pipeline}: built here, not yet committed. */
  private final Map<Hash, RecordHeader> pendingHeaders = new HashMap<>();
  private long submitted;
  private final Map<Hash, RecordHeader> known = new LinkedHashMap<>(16, 0.75f, true) {
    private static final long serialVersionUID = 1L;

    @Override
    protected boolean removeEldestEntry(Map.Entry<Hash, RecordHeader> eldest) {
      return size() > KNOWN_HEADERS;
    }
  };

  /**
   * A writer for an existing capsule.
   *
   * @param heads the capsule's heads as this writer last verified them (empty for a new capsule)
   * @param knownHeaders verified headers to build skip pointers from (more are fetched when missing)
   */
  public CapsuleWriter(SignedMetadata metadata, SigningKey writerKey, Collection<Record> heads,
      Collection<RecordHeader> knownHeaders) {
    this.metadata = Objects.requireNonNull(metadata, "metadata");
    this.writerKey = Objects.requireNonNull(writerKey, "writerKey");
    this.log = MemberLog.forCapsule(metadata);
    // In version 2 who may append depends on the membership records: checked before every append.
    if (log == null && !metadata.metadata().mayAppend(writerKey.publicKey())) {
      throw new IllegalArgumentException("key " + writerKey.publicKey() + " may not append to " + metadata.capsuleId());
    }
    knownHeaders.forEach(h -> known.put(h.hash(), h));
    heads.forEach(this::addHead);
  }

  /**
   * New signed version-2 metadata. The creator is a member by definition (it holds every right) and is not
   * listed; a {@code writer} other than the creator is listed with read and add.
   */
  public static SignedMetadata newMetadata(SigningKey creator, SigningKey writer, SigningPolicy policy,
      long maxSubRecords, long maxSubRecordBytes, String description, long createdAtMillis) {
    Map<PublicKey, Integer> writers = writer.publicKey().equals(creator.publicKey()) ? Map.of()
        : Map.of(writer.publicKey(), Permissions.READ | Permissions.ADD);
    return SignedMetadata.sign(Metadata.createV2(creator.publicKey(), createdAtMillis, policy, maxSubRecords,
        maxSubRecordBytes, writers, description), creator);
  }

  /**
   * Creates a capsule on the host: signs its metadata with {@code creator}, runs a {@code CreateCapsule}
   * program (the output must be the metadata's hash, the capsule id) and returns its writer.
   */
  public static CapsuleWriter create(HostClient client, SigningKey creator, SigningKey writer, SigningPolicy policy,
      long maxSubRecords, long maxSubRecordBytes, String description) throws RenterException {
    SignedMetadata metadata = newMetadata(creator, writer, policy, maxSubRecords, maxSubRecordBytes, description,
        client.options().clock().millis());
    ProgramBuilder builder = ProgramBuilder.withoutCapsule();
    builder.createCapsule(metadata);
    ProgramResult result = client.run(builder.build());
    CapsuleWriter created = new CapsuleWriter(metadata, writer, List.of(), List.of());
    created.lastResult = result;
    return created;
  }

  private @Nullable ProgramResult lastResult;

  /**
   * The verified result of the last program this writer ran (create, append or refresh), or null when
   * it has run none (a writer made from saved state).
   */
  public @Nullable ProgramResult lastResult() {
    return lastResult;
  }

  public SignedMetadata metadata() {
    return metadata;
  }

  public Hash capsuleId() {
    return metadata.capsuleId();
  }

  public SigningKey writerKey() {
    return writerKey;
  }

  /** The heads this writer tracks, sorted by hash. */
  public List<Record> heads() {
    return List.copyOf(heads.values());
  }

  /** The highest tracked head (the usual anchor for reads), or null before the first append. */
  public @Nullable RecordHeader highestHead() {
    RecordHeader best = null;
    for (Record head : heads.values()) {
      if (best == null || head.header().height() > best.height()) {
        best = head.header();
      }
    }
    return best;
  }

  /** Headers this writer verified or built, newest use last (what its local state keeps). */
  public List<RecordHeader> knownHeaders() {
    return List.copyOf(known.values());
  }

  /** A verified header by hash, or null. */
  public @Nullable RecordHeader headerOrNull(Hash hash) {
    return known.get(hash);
  }

  /**
   * A program builder on this capsule that knows its metadata, heads and headers: the writer's own and,
   * when {@code clientOrNull} is given, those in its proof cache.
   */
  public ProgramBuilder newProgram(@Nullable HostClient clientOrNull) {
    return newProgramOn(clientOrNull, headHeaders());
  }

  /** {@link #newProgram} expecting {@code headHeaders} as the capsule's heads (a pipeline's tip). */
  private ProgramBuilder newProgramOn(@Nullable HostClient clientOrNull, List<RecordHeader> headHeaders) {
    Function<Hash, @Nullable RecordHeader> headers = h -> {
      RecordHeader header = known.get(h);
      if (header == null) {
        header = pendingHeaders.get(h);
      }
      return header != null || clientOrNull == null ? header : clientOrNull.proofCache().getIfPresent(h);
    };
    ProgramBuilder builder = new ProgramBuilder(capsuleId(), metadata, headHeaders, headers);
    return log == null ? builder : builder.withMemberStates(log.memberStates(headers));
  }

  /**
   * Builds and signs the records of one append: record 0 follows every current head (merging a fork),
   * each later one follows the one before. Under {@link SigningPolicy#HEARTBEAT} only the last is signed.
   *
   * @throws MissingHeaderException when a skip pointer needs a header this writer does not hold
   */
  public List<RecordWithBody> buildRecords(List<List<byte[]>> bodies, long timestampMillis)
      throws MissingHeaderException {
    return buildRecords(bodies, timestampMillis, RecordKind.DATA);
  }

  /**
   * {@link #buildRecords(List, long)} of records of {@code kind}; a version-2 capsule's records carry auth
   * parents and the member root, which needs every membership record below the heads (held or fetched:
   * {@link #appendRecords} fetches them).
   *
   * @throws IllegalStateException when a version-2 writer lacks a membership record below its heads
   */
  private List<RecordWithBody> buildRecords(List<List<byte[]>> bodies, long timestampMillis, RecordKind kind)
      throws MissingHeaderException {
    return buildOn(heads, bodies, timestampMillis, kind);
  }

  /** Builds the records of one append on {@code base} (the heads, or the pipeline's tip). */
  private List<RecordWithBody> buildOn(Map<Hash, Record> base, List<List<byte[]>> bodies, long timestampMillis,
      RecordKind kind) throws MissingHeaderException {
    if (bodies.isEmpty()) {
      throw new IllegalArgumentException("an append holds at least one record");
    }
    Map<Hash, RecordHeader> staged = new HashMap<>();
    List<Hash> parents = base.isEmpty() ? List.of(capsuleId()) : List.copyOf(base.keySet());
    boolean everyRecord = metadata.metadata().signingPolicy() == SigningPolicy.EVERY_RECORD;
    List<RecordWithBody> out = new ArrayList<>();
    for (int i = 0; i < bodies.size(); i++) {
      requireSkipHeaders(parents, staged);
      boolean sign = everyRecord || i == bodies.size() - 1;
      List<byte[]> payloads = bodies.get(i);
      RecordSource source = h -> {
        RecordHeader header = headerFor(h, staged);
        Record head = header == null ? base.get(h) : null;
        return head != null ? head.header() : header;
      };
      Record record = log == null
          ? Record.build(capsuleId(), parents, payloads, timestampMillis, writerKey, sign, source)
          : Record.buildV2(parents, payloads, timestampMillis, writerKey, sign, kind, source, log, log.membership());
      staged.put(record.hash(), record.header());
      out.add(new RecordWithBody(record, payloads));
      parents = List.of(record.hash());
    }
    return out;
  }

  /** A header the writer needs (for a skip pointer) and does not hold. */
  public static final class MissingHeaderException extends Exception {
    private static final long serialVersionUID = 1L;
    private final Hash hash;

    MissingHeaderException(Hash hash) {
      super("the writer does not hold header " + hash);
      this.hash = hash;
    }

    public Hash hash() {
      return hash;
    }
  }

  /** A header this writer holds: staged in the append being built, verified, or built for a pending append. */
  private @Nullable RecordHeader headerFor(Hash hash, Map<Hash, RecordHeader> staged) {
    RecordHeader header = staged.get(hash);
    if (header == null) {
      header = known.get(hash);
    }
    return header != null ? header : pendingHeaders.get(hash);
  }

  private void requireSkipHeaders(List<Hash> parents, Map<Hash, RecordHeader> staged) throws MissingHeaderException {
    RecordHeader primary = null;
    for (Hash parent : parents) {
      if (parent.equals(capsuleId())) {
        return;
      }
      RecordHeader header = headerFor(parent, staged);
      if (header == null) {
        throw new MissingHeaderException(parent);
      }
      if (primary == null || header.height() > primary.height()) {
        primary = header;
      }
    }
    // buildRecords never passes an empty list: the loop returned at the capsule id or chose a primary.
    int count = SkipPointers.count(Objects.requireNonNull(primary).height() + 1);
    Hash at = primary.primaryParent();
    for (int j = 1; j < count; j++) {
      RecordHeader via = headerFor(at, staged);
      if (via == null) {
        throw new MissingHeaderException(at);
      }
      at = via.skipPointers().get(j - 1);
    }
  }

  /** Appends one record of {@code subRecords} sub-records (one for the plain DataCapsule model). */
  public List<RecordWithBody> append(HostClient client, List<byte[]> subRecords) throws RenterException {
    return appendRecords(client, List.of(subRecords));
  }

  /**
   * Appends {@code bodies} as records in one program (one {@code AppendRecord} instruction), fetching
   * (by hash, self-certifying) any header the skip pointers need, and adopts the committed heads. After an
   * append conflict it adopts the verified heads and appends again, records rebuilt on them, at most
   * {@link RenterOptions#appendRetries()} times; so it does when the host stops the append for its budget
   * (the host's bound counts its heads, more than this writer knew of). The records returned are the
   * ones committed.
   *
   * @throws AppendConflictException when the retries ran out; the writer holds the latest verified heads
   * @throws WriteCommittedException the write is committed but the host misbehaved in its end; the writer
   *     holds the verified heads
   */
  public List<RecordWithBody> appendRecords(HostClient client, List<List<byte[]>> bodies) throws RenterException {
    return appendRecords(client, bodies, null);
  }

  /**
   * Appends {@code bodies} as data records, or, when {@code changeOrNull} is given, one membership record
   * making that change.
   *
   * @throws NotAllowedException when this writer's key may not make the write, by its own verified view
   *     of the members or by the host's ({@code WRITER_NOT_ALLOWED}); nothing was committed
   */
  private List<RecordWithBody> appendRecords(HostClient client, List<List<byte[]>> bodies,
      @Nullable MemberChange changeOrNull) throws RenterException {
    requireNoPendingAppends(changeOrNull == null ? "append" : "change the members");
    for (int attempt = 0; ; attempt++) {
      boolean last = attempt >= client.options().appendRetries();
      List<RecordWithBody> records = buildRecords(client, bodies, changeOrNull);
      ProgramBuilder builder = newProgram(client);
      int append = builder.append(records);
      try {
        ProgramResult result = client.run(builder.build());
        committed(records, result.committedHeads());
        if (changeOrNull != null) {
          Objects.requireNonNull(log).add(records.get(0));
        }
        Claim claim = new Claim.CommittedHeads(result.signedReceipt());
        heads.keySet().forEach(h -> claims.put(h, claim));
        lastResult = result;
        return records;
      } catch (AppendConflictException e) {
        adoptHeads(e.currentHeads());
        if (last) {
          throw e;
        }
      } catch (WriteCommittedException e) {
        records.forEach(r -> known.put(r.hash(), r.record().header()));
        adoptHeads(e.committedHeads());
        throw e;
      } catch (ProgramFailedException e) {
        if (e.reason() == ProgramFailedException.Reason.WRITER_NOT_ALLOWED) {
          throw notAllowedOr(e, changeOrNull);
        }
        if (last || e.reason() != ProgramFailedException.Reason.BUDGET || e.instructionIndex() != append) {
          throw e;
        }
        refreshHeads(client);
      }
    }
  }

  /**
   * Builds and signs {@code bodies} as data records of one append program and returns without waiting for
   * the host: the records build on the last pending append's last record, or on the heads when none is
   * pending (then, for a version-2 capsule, the membership records below them are fetched first, as
   * {@link #appendRecords} does). The program is sent now when no append is pending, else as soon as the
   * previous one holds the capsule at the host (see {@link PendingAppend}). The budget is the program's
   * estimate.
   *
   * <p>The caller bounds how many are pending (settling the oldest with {@link PendingAppend#result}): the
   * records of each are held until it settles. A conflict with
   * another writer is not retried here: that append fails with {@link AppendConflictException} (the writer
   * adopts the verified heads) and the ones after it with {@link AppendDependencyException}.
   *
   * @throws NotAllowedException this writer's key may not append, by its own view (nothing was sent)
   */
  public PendingAppend submitAppend(HostClient client, List<List<byte[]>> bodies) throws RenterException {
    return submitAppend(client, bodies, null);
  }

  /**
   * {@link #submitAppend(HostClient, List)} paying at most {@code budgetOrNull} for the program (null: the
   * estimate, or {@link RenterOptions#budgetOrNull()} when set).
   */
  public PendingAppend submitAppend(HostClient client, List<List<byte[]>> bodies, @Nullable Amount budgetOrNull)
      throws RenterException {
    PendingAppend tip = pipeline.peekLast();
    List<RecordWithBody> records;
    List<RecordHeader> expectedHeads;
    if (tip == null) {
      records = buildRecords(client, bodies, null);
      expectedHeads = headHeaders();
    } else {
      RecordWithBody last = tip.records().get(tip.records().size() - 1);
      Map<Hash, Record> base = Map.of(last.hash(), last.record());
      records = buildOnTip(client, base, bodies);
      expectedHeads = List.of(last.record().header());
    }
    ProgramBuilder builder = newProgramOn(client, expectedHeads);
    builder.append(records);
    PreparedProgram program = builder.build();
    Amount budget = budgetOrNull != null ? budgetOrNull : client.options().budgetOrNull();
    PendingAppend pending = new PendingAppend(this, ++submitted, records, tip, client, program, budget);
    records.forEach(r -> pendingHeaders.put(r.hash(), r.record().header()));
    pipeline.addLast(pending);
    if (tip == null) {
      pending.send();
    } else {
      tip.follow(pending);
    }
    return pending;
  }

  /** How many submitted appends are not settled yet. */
  public int pendingAppends() {
    return pipeline.size();
  }

  /**
   * Settles every pending append, in order (each keeps its outcome: {@link PendingAppend#result}), and
   * throws the first failure among them, if any.
   */
  public void awaitAppends() throws RenterException {
    PendingAppend newest = pipeline.peekLast();
    if (newest == null) {
      return;
    }
    List<PendingAppend> settling = List.copyOf(pipeline);
    settleThrough(newest);
    for (PendingAppend p : settling) {
      RenterException failure = p.failureOrNull();
      if (failure != null) {
        throw failure;
      }
    }
  }

  /** Settles the pending appends up to and including {@code target}, oldest first. */
  void settleThrough(PendingAppend target) {
    while (!target.isSettled()) {
      settle(pipeline.removeFirst());
    }
  }

  /**
   * Settles one pipelined append, the oldest pending. Its own program's end is always awaited when it was
   * sent, whatever happened before it: only the host's verified answer says whether its records are in the
   * capsule (after an append whose commit is unknown, the next one may still commit).
   */
  private void settle(PendingAppend p) {
    p.records().forEach(r -> pendingHeaders.remove(r.hash()));
    ProgramRun run = p.started.join();
    RenterException own = null;
    ProgramResult result = null;
    if (run != null) {
      try {
        result = run.result();
      } catch (RenterException e) {
        own = e;
      }
    } else {
      own = p.submitFailureOrNull(); // null when it was held back
    }
    PendingAppend before = p.dependsOnOrNull();
    boolean brokenBefore = before != null && !before.isCommitted();
    if (result == null && !brokenBefore && ranNothing(run, own)) {
      // Refused before it ran (a busy host, a stale table), not sent, or held back behind an append that
      // has committed since: nothing of it reached the capsule, so it runs now, in this thread.
      try {
        result = p.budgetOrNull != null ? p.client.run(p.program, p.budgetOrNull) : p.client.run(p.program);
        own = null;
      } catch (RenterException e) {
        own = e;
      }
    }
    if (result != null) {
      committed(p.records(), result.committedHeads());
      Claim claim = new Claim.CommittedHeads(result.signedReceipt());
      heads.keySet().forEach(h -> claims.put(h, claim));
      lastResult = result;
      p.settle(true, result, null);
    } else if (before != null && brokenBefore) {
      p.settle(false, null, new AppendDependencyException(p, before, before.failure(), own));
    } else if (own instanceof WriteCommittedException e) {
      p.records().forEach(r -> known.put(r.hash(), r.record().header()));
      adoptHeads(e.committedHeads());
      p.settle(true, null, e);
    } else {
      RenterException failure = Objects.requireNonNull(own, "an append that ran and did not commit failed");
      if (failure instanceof AppendConflictException e) {
        adoptHeads(e.currentHeads());
      }
      p.settle(false, null, notAllowedOr(failure, null));
    }
  }

  /**
   * Whether a pipelined append that did not commit ran nothing at the host: it was refused before running
   * (the host takes nothing then), or never sent (submitting failed other than for the price table, or it
   * was held back).
   */
  private static boolean ranNothing(@Nullable ProgramRun run, @Nullable RenterException own) {
    if (run == null) {
      return !(own instanceof PriceTableRefusedException);
    }
    return run.refusedBeforeRunning(Status.Code.RESOURCE_EXHAUSTED) || run.refusedBeforeRunning(Status.Code.UNAVAILABLE)
        || run.refusedBeforeRunning(Status.Code.FAILED_PRECONDITION);
  }

  /** The host's {@code WRITER_NOT_ALLOWED} as {@link NotAllowedException}; any other failure as it is. */
  private RenterException notAllowedOr(RenterException failure, @Nullable MemberChange changeOrNull) {
    if (failure instanceof ProgramFailedException e && e.reason() == ProgramFailedException.Reason.WRITER_NOT_ALLOWED) {
      return new NotAllowedException(writerKey.publicKey(), null, "key " + writerKey.publicKey().toHex()
          + " may not " + (changeOrNull == null ? "append to" : "change the members of") + " capsule "
          + capsuleId() + ": the host refuses it: " + e.failureMessage(), e);
    }
    return failure;
  }

  /** Builds a pipelined append's records on the pipeline's tip, fetching skip-pointer headers it lacks. */
  private List<RecordWithBody> buildOnTip(HostClient client, Map<Hash, Record> base, List<List<byte[]>> bodies)
      throws RenterException {
    while (true) {
      try {
        List<RecordWithBody> records = buildOn(base, bodies, client.options().clock().millis(), RecordKind.DATA);
        checkAllowed(records.get(0).record().header(), null);
        return records;
      } catch (MissingHeaderException e) {
        fetchHeader(client, e.hash());
      }
    }
  }

  private void requireNoPendingAppends(String what) {
    if (!pipeline.isEmpty()) {
      throw new IllegalStateException("cannot " + what + " while " + pipeline.size()
          + " pipelined append(s) are pending: settle them first (awaitAppends)");
    }
  }

  private List<RecordWithBody> buildRecords(HostClient client, List<List<byte[]>> bodies,
      @Nullable MemberChange changeOrNull) throws RenterException {
    RecordKind kind = changeOrNull == null ? RecordKind.DATA : RecordKind.MEMBERSHIP;
    if (log != null) {
      List<RecordHeader> tops = headHeaders();
      log.fetchBelow(client, tops);
      log.checkHeads(client, tops);
    }
    boolean refreshed = false;
    while (true) {
      try {
        List<RecordWithBody> records = buildRecords(bodies, client.options().clock().millis(), kind);
        checkAllowed(records.get(0).record().header(), changeOrNull);
        return records;
      } catch (MissingHeaderException e) {
        fetchHeader(client, e.hash());
      } catch (NotAllowedException e) {
        // This writer's heads may predate the change that lets it write (a member's first append starts
        // from no heads at all): judge again on the newest verified heads, once.
        if (refreshed) {
          throw e;
        }
        refreshHeads(client);
        refreshed = true;
      }
    }
  }

  /**
   * Refuses, before anything is sent, a record this writer's key may not write in the state before it (the
   * records of one append share that state: only a membership record changes it, and it travels alone).
   */
  private void checkAllowed(RecordHeader first, @Nullable MemberChange changeOrNull) throws NotAllowedException {
    MemberLog held = log;
    if (held == null) {
      return;
    }
    try {
      held.membership().check(first, changeOrNull, held);
    } catch (VerificationException e) {
      Resolution before = held.membership().resolutionBefore(first.authParents(), held);
      throw new NotAllowedException(writerKey.publicKey(), before.removedByOrNull(writerKey.publicKey()),
          e.getMessage() + " in capsule " + capsuleId(), e);
    }
  }

  private List<RecordHeader> headHeaders() {
    List<RecordHeader> out = new ArrayList<>();
    heads.values().forEach(r -> out.add(r.header()));
    return out;
  }

  /**
   * Sets {@code member}'s permission bits ({@link Rights#READ}, {@link Rights#ADD}, {@link Rights#ADMIN},
   * {@link Rights#SUPERADMIN}; 0 removes it) with a signed membership record, which the host validates like
   * any record. Who may: docs/FORMAT.md, "Members" (admins change plain members, superadmins change admins,
   * only the creator changes superadmins, and the creator cannot be changed).
   *
   * @return the membership record, committed
   * @throws NotAllowedException when this writer's key may not make the change (by its view or the host's)
   * @throws IllegalStateException for a version-1 capsule, whose writers are fixed
   */
  public RecordWithBody setMember(HostClient client, PublicKey member, int bits) throws RenterException {
    return change(client, new MemberChange.SetMember(member, bits));
  }

  /**
   * Adds {@code member} with {@code bits} (non-zero); for a member already there it sets its bits.
   *
   * @see #setMember
   */
  public RecordWithBody addMember(HostClient client, PublicKey member, int bits) throws RenterException {
    if (bits == 0) {
      throw new IllegalArgumentException("a member is added with some bits; removeMember removes one");
    }
    return setMember(client, member, bits);
  }

  /** Removes {@code member} (its bits become 0): its later appends are refused. @see #setMember */
  public RecordWithBody removeMember(HostClient client, PublicKey member) throws RenterException {
    return setMember(client, member, 0);
  }

  /** Sets the capsule's retention policy (needs superadmin). @see #setMember */
  public RecordWithBody setRetention(HostClient client, RetentionPolicy policy) throws RenterException {
    return change(client, new MemberChange.SetRetention(policy));
  }

  private RecordWithBody change(HostClient client, MemberChange change) throws RenterException {
    if (log == null) {
      throw new IllegalStateException("capsule " + capsuleId() + " has version-1 metadata: its writers are fixed");
    }
    return appendRecords(client, List.of(List.of(change.encode())), change).get(0);
  }

  /**
   * The members as of the capsule's newest heads: refreshes the heads (verified, as {@link #refreshHeads}),
   * then resolves the verified membership records at or below them.
   *
   * @throws IllegalStateException for a version-1 capsule, whose writers are fixed in its metadata
   */
  public CapsuleMembers members(HostClient client) throws RenterException {
    if (log == null) {
      throw new IllegalStateException("capsule " + capsuleId() + " has version-1 metadata: its writers are fixed");
    }
    refreshHeads(client);
    return membersOf(capsuleId(), log, headHeaders());
  }

  /** The members over {@code heads}, whose membership records {@code log} holds. */
  static CapsuleMembers membersOf(Hash capsuleId, MemberLog log, List<RecordHeader> heads) {
    Resolution resolution = log.resolutionAfter(heads);
    List<Hash> hashes = new ArrayList<>();
    heads.forEach(h -> hashes.add(h.hash()));
    hashes.sort(null);
    List<Hash> frontier = new ArrayList<>();
    heads.forEach(h -> {
      frontier.addAll(h.authParents());
      if (h.kind() == RecordKind.MEMBERSHIP) {
        frontier.add(h.hash());
      }
    });
    List<Op> closure = Changelog.closure(log, frontier);
    return new CapsuleMembers(capsuleId, hashes, resolution, closure);
  }

  /**
   * The membership records this writer holds, verified (what a renter saves, for {@link
   * #restoreMembershipRecords}); empty for a version-1 capsule.
   */
  public List<RecordWithBody> membershipRecords() {
    return log == null ? List.of() : log.records();
  }

  /**
   * Restores membership records saved earlier, each checked again (of this capsule, signed, its change
   * body under its sub-record root), so they are not fetched again.
   *
   * @throws IllegalArgumentException naming a record that fails the check
   */
  public void restoreMembershipRecords(Collection<RecordWithBody> saved) {
    if (log != null) {
      saved.forEach(log::add);
    }
  }

  /**
   * Merges a fork: reads the capsule's heads through a verified {@code Heads} program, then appends one
   * record of {@code subRecords} (possibly none: an empty record is valid, its sub-record root is the
   * empty tree's) whose parents are all of those heads. As docs/FORMAT.md requires, its height is 1 +
   * the highest head's, parent 0 (the primary parent, which the skip pointers follow) is a highest head
   * (the smallest hash among equal heights) and the other heads follow in ascending hash order. With a
   * single head this is an ordinary append.
   *
   * <p>The append expects the host to leave the merge record as the only head; a write by anyone else
   * between the two programs is an append conflict, after which the record is rebuilt on the heads then
   * verified (merging that write too), as for {@link #append}.
   *
   * @return the merge record, whose header's parents are the heads it merged
   * @throws RenterException also when there are more heads than one record may name ({@value
   *     RecordHeader#MAX_PARENTS})
   */
  public RecordWithBody merge(HostClient client, List<byte[]> subRecords) throws RenterException {
    refreshHeads(client);
    if (heads.size() > RecordHeader.MAX_PARENTS) {
      throw new RenterException("the capsule has " + heads.size() + " heads; one record merges at most "
          + RecordHeader.MAX_PARENTS);
    }
    return appendRecords(client, List.of(subRecords)).get(0);
  }

  /** Adopts an append the host committed with {@code committedHeads}. */
  public void committed(List<RecordWithBody> appended, List<Hash> committedHeads) {
    Map<Hash, Record> candidates = new HashMap<>(heads);
    for (RecordWithBody item : appended) {
      known.put(item.hash(), item.record().header());
      candidates.put(item.hash(), item.record());
    }
    heads.clear();
    for (Hash head : committedHeads) {
      Record record = candidates.get(head);
      if (record != null) {
        heads.put(head, record);
      }
    }
    claims.keySet().retainAll(heads.keySet());
  }

  /**
   * Runs a {@code Heads} program and moves to the verified, writer-signed heads it returns (the estimate
   * sizes them as the heads this writer tracks), as {@link HeadTracker#advance} allows: every head this
   * writer tracked must be among them or proven below one, so a host that rolled the capsule back is
   * caught ({@link RollbackException}, its evidence written to the client's evidence directory) instead of
   * the next append forking the capsule unnoticed.
   */
  public List<Record> refreshHeads(HostClient client) throws RenterException {
    requireNoPendingAppends("refresh the heads");
    List<RecordHeader> tracked = new ArrayList<>();
    heads.values().forEach(r -> tracked.add(r.header()));
    ProgramBuilder builder = new ProgramBuilder(capsuleId(), metadata, tracked, null);
    builder.heads();
    ProgramResult result = client.run(builder.build());
    List<HeadTracker.VouchedHead> fresh = HostProber.vouchedHeads(result);
    if (log != null) {
      List<RecordHeader> freshHeaders = new ArrayList<>();
      fresh.forEach(v -> freshHeaders.add(v.head().header()));
      log.fetchBelow(client, freshHeaders);
      log.checkHeads(client, freshHeaders);
    }
    List<HeadTracker.VouchedHead> before = new ArrayList<>();
    heads.values().forEach(r -> before.add(new HeadTracker.VouchedHead(r, claims.get(r.hash()))));
    new HostProber(client, metadata).advance(new HeadTracker(capsuleId(), before), fresh);
    adoptHeads(fresh.stream().map(HeadTracker.VouchedHead::head).toList());
    fresh.forEach(v -> claims.put(v.hash(), Objects.requireNonNull(v.claimOrNull())));
    lastResult = result;
    return heads();
  }

  /**
   * Restores the claims saved beside this writer's heads (a writer made from saved state), so that a
   * rollback of those heads is caught with evidence; claims of heads it does not track are ignored.
   */
  public void restoreClaims(Collection<HeadTracker.VouchedHead> saved) {
    for (HeadTracker.VouchedHead v : saved) {
      Claim claim = v.claimOrNull();
      if (claim != null && heads.containsKey(v.hash())) {
        claims.put(v.hash(), claim);
      }
    }
  }

  /** The host-signed claim that vouched for tracked head {@code head}, or null when none is held. */
  public @Nullable Claim claimOrNull(Hash head) {
    return heads.containsKey(head) ? claims.get(head) : null;
  }

  /** Replaces the tracked heads by {@code verified} (heads a verified program returned). */
  private void adoptHeads(List<Record> verified) {
    heads.clear();
    claims.clear();
    verified.forEach(this::addHead);
  }

  private void addHead(Record head) {
    heads.put(head.hash(), head);
    known.put(head.hash(), head.header());
  }

  private void fetchHeader(HostClient client, Hash hash) throws RenterException {
    ProgramBuilder builder = newProgram(client);
    builder.readByHash(hash);
    ProgramResult result = client.run(builder.build());
    RecordHeader header = result.output(0).provenHeaderOrNull();
    if (header == null) {
      throw new RenterException("the host does not hold record " + hash + ", which the next record must point to");
    }
    known.put(hash, header);
  }
}
