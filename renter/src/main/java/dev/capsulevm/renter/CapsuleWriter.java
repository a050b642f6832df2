package dev.capsulevm.renter;

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
 * fixed writers. Not thread-safe.
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
    List<RecordHeader> headHeaders = new ArrayList<>();
    heads.values().forEach(r -> headHeaders.add(r.header()));
    Function<Hash, @Nullable RecordHeader> headers = h -> {
      RecordHeader header = known.get(h);
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
      RecordSource source = h -> {
        RecordHeader header = staged.get(h);
        if (header == null) {
          header = known.get(h);
        }
        Record head = header == null ? heads.get(h) : null;
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
          throw new NotAllowedException(writerKey.publicKey(), null, "key " + writerKey.publicKey().toHex()
              + " may not " + (changeOrNull == null ? "append to" : "change the members of") + " capsule "
              + capsuleId() + ": the host refuses it: " + e.failureMessage(), e);
        }
        if (last || e.reason() != ProgramFailedException.Reason.BUDGET || e.instructionIndex() != append) {
          throw e;
        }
        refreshHeads(client);
      }
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
