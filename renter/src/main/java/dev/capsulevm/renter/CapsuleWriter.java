package dev.capsulevm.renter;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.Metadata;
import dev.capsulevm.proofs.capsule.Permissions;
import dev.capsulevm.proofs.capsule.Record;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import dev.capsulevm.proofs.capsule.SigningPolicy;
import dev.capsulevm.proofs.capsule.SkipPointers;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.renter.evidence.Claim;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
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
 * the heads again. Not thread-safe.
 */
public final class CapsuleWriter {
  /** How many verified headers the writer keeps for building skip pointers. */
  private static final int KNOWN_HEADERS = 4096;

  private final SignedMetadata metadata;
  private final SigningKey writerKey;
  private final TreeMap<Hash, Record> heads = new TreeMap<>();
  /** Per tracked head, the host-signed claim that vouched for it (its commit's receipt, or a Heads output). */
  private final Map<Hash, Claim> claims = new HashMap<>();
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
    if (!metadata.metadata().mayAppend(writerKey.publicKey())) {
      throw new IllegalArgumentException("key " + writerKey.publicKey() + " may not append to " + metadata.capsuleId());
    }
    knownHeaders.forEach(h -> known.put(h.hash(), h));
    heads.forEach(this::addHead);
  }

  /** New signed metadata naming {@code writer} with read and add permissions. */
  public static SignedMetadata newMetadata(SigningKey creator, SigningKey writer, SigningPolicy policy,
      long maxSubRecords, long maxSubRecordBytes, String description, long createdAtMillis) {
    return SignedMetadata.sign(Metadata.create(creator.publicKey(), createdAtMillis, policy, maxSubRecords,
        maxSubRecordBytes, Map.of(writer.publicKey(), Permissions.READ | Permissions.ADD), description), creator);
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
    List<RecordHeader> headHeaders = new ArrayList<>();
    heads.values().forEach(r -> headHeaders.add(r.header()));
    return new ProgramBuilder(capsuleId(), metadata, headHeaders, h -> {
      RecordHeader header = known.get(h);
      return header != null || clientOrNull == null ? header : clientOrNull.proofCache().getIfPresent(h);
    });
  }

  /**
   * Builds and signs the records of one append: record 0 follows every current head (merging a fork),
   * each later one follows the one before. Under {@link SigningPolicy#HEARTBEAT} only the last is signed.
   *
   * @throws MissingHeaderException when a skip pointer needs a header this writer does not hold
   */
  public List<RecordWithBody> buildRecords(List<List<byte[]>> bodies, long timestampMillis)
      throws MissingHeaderException {
    if (bodies.isEmpty()) {
      throw new IllegalArgumentException("an append holds at least one record");
    }
    Map<Hash, RecordHeader> staged = new HashMap<>();
    List<Hash> parents = heads.isEmpty() ? List.of(capsuleId()) : List.copyOf(heads.keySet());
    boolean everyRecord = metadata.metadata().signingPolicy() == SigningPolicy.EVERY_RECORD;
    List<RecordWithBody> out = new ArrayList<>();
    for (int i = 0; i < bodies.size(); i++) {
      requireSkipHeaders(parents, staged);
      boolean sign = everyRecord || i == bodies.size() - 1;
      List<byte[]> payloads = bodies.get(i);
      Record record = Record.build(capsuleId(), parents, payloads, timestampMillis, writerKey, sign, h -> {
        RecordHeader header = staged.get(h);
        return header != null ? header : known.get(h);
      });
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

  private void requireSkipHeaders(List<Hash> parents, Map<Hash, RecordHeader> staged) throws MissingHeaderException {
    RecordHeader primary = null;
    for (Hash parent : parents) {
      if (parent.equals(capsuleId())) {
        return;
      }
      RecordHeader header = staged.containsKey(parent) ? staged.get(parent) : known.get(parent);
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
      RecordHeader via = staged.containsKey(at) ? staged.get(at) : known.get(at);
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
    for (int attempt = 0; ; attempt++) {
      boolean last = attempt >= client.options().appendRetries();
      List<RecordWithBody> records = buildRecords(client, bodies);
      ProgramBuilder builder = newProgram(client);
      int append = builder.append(records);
      try {
        ProgramResult result = client.run(builder.build());
        committed(records, result.committedHeads());
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
        if (last || e.reason() != ProgramFailedException.Reason.BUDGET || e.instructionIndex() != append) {
          throw e;
        }
        refreshHeads(client);
      }
    }
  }

  private List<RecordWithBody> buildRecords(HostClient client, List<List<byte[]>> bodies) throws RenterException {
    while (true) {
      try {
        return buildRecords(bodies, client.options().clock().millis());
      } catch (MissingHeaderException e) {
        fetchHeader(client, e.hash());
      }
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
    List<RecordHeader> tracked = new ArrayList<>();
    heads.values().forEach(r -> tracked.add(r.header()));
    ProgramBuilder builder = new ProgramBuilder(capsuleId(), metadata, tracked, null);
    builder.heads();
    ProgramResult result = client.run(builder.build());
    List<HeadTracker.VouchedHead> fresh = HostProber.vouchedHeads(result);
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
