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
import dev.capsulevm.proofs.crypto.Signature;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proofs.members.Changelog;
import dev.capsulevm.proofs.members.EpochKey;
import dev.capsulevm.proofs.members.Epochs;
import dev.capsulevm.proofs.members.Keystore;
import dev.capsulevm.proofs.members.MemberChange;
import dev.capsulevm.proofs.members.MemberState;
import dev.capsulevm.proofs.members.Op;
import dev.capsulevm.proofs.members.Resolution;
import dev.capsulevm.proofs.members.RetentionPolicy;
import dev.capsulevm.proofs.members.Rights;
import dev.capsulevm.proofs.privacy.EpochSecret;
import dev.capsulevm.proofs.privacy.RecordCipher;
import dev.capsulevm.renter.access.EncryptionKey;
import dev.capsulevm.renter.access.MemberCard;
import dev.capsulevm.renter.evidence.Claim;
import io.grpc.Status;
import java.security.SecureRandom;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
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
 * is pending). Appends leave in flights ({@link AppendPipeline}): the appends submitted while one flight is
 * on its way go together in the next program, sent as soon as that flight holds the capsule at the host
 * (its append output arrived; it is verified right after), so it reaches the host while that one commits
 * and runs right after it. Each {@link PendingAppend} is settled in submission order: committed, or
 * failed with its own reason, or, when the append it builds on was not committed,
 * {@link AppendDependencyException} naming that one (nothing of it was written: its parent is not in the
 * capsule). The heads move only as appends settle. The synchronous operations ({@link #appendRecords},
 * {@link #refreshHeads}, {@link #merge}, member changes) refuse to run while appends are pending:
 * {@link #awaitAppends} settles them. Not thread-safe: submit and settle from one thread.
 */
public final class CapsuleWriter {
  /** How many verified headers the writer keeps for building skip pointers. */
  private static final int KNOWN_HEADERS = 4096;
  /** Epoch secrets and the ephemeral keys of records' data keys. */
  private static final SecureRandom RANDOM = new SecureRandom();

  private final SignedMetadata metadata;
  private final SigningKey writerKey;
  /** The verified membership records of a version-2 or version-3 capsule; null for version 1. */
  private final @Nullable MemberLog log;
  /** The epoch secrets this writer can open, in a private capsule; null otherwise. */
  private final @Nullable EpochKeyring keyring;
  private final TreeMap<Hash, Record> heads = new TreeMap<>();
  /** Per tracked head, the host-signed claim that vouched for it (its commit's receipt, or a Heads output). */
  private final Map<Hash, Claim> claims = new HashMap<>();
  /** Pipelined appends submitted and not yet settled, oldest first. */
  private final ArrayDeque<PendingAppend> pipeline = new ArrayDeque<>();
  /** The headers of the records of {@link #pipeline}: built here, not yet committed. */
  private final Map<Hash, RecordHeader> pendingHeaders = new HashMap<>();
  private final AppendPipeline flights = new AppendPipeline(this);
  private long submitted;
  /** Guards {@link #sealedInARow}: a flight's program is built in a pool thread. */
  private final Object receiptPlans = new Object();
  /**
   * Appends sent since the last one sent for a signed receipt, whose receipts may be sealed ({@link
   * RenterOptions#sealedAppends()}).
   */
  private int sealedInARow;
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
    this(metadata, writerKey, null, heads, knownHeaders);
  }

  /**
   * A writer for an existing capsule that, in a private capsule, reads and manages keys with
   * {@code encryptionKeyOrNull}: the X25519 key of this writer's member card (the card of {@code writerKey}).
   * Without it the writer still writes (writing needs only the epoch's public key), but cannot read, forward
   * the current epoch to a new reader, or link a new epoch to older ones.
   *
   * @param heads the capsule's heads as this writer last verified them (empty for a new capsule)
   * @param knownHeaders verified headers to build skip pointers from (more are fetched when missing)
   */
  public CapsuleWriter(SignedMetadata metadata, SigningKey writerKey, @Nullable EncryptionKey encryptionKeyOrNull,
      Collection<Record> heads, Collection<RecordHeader> knownHeaders) {
    this.metadata = Objects.requireNonNull(metadata, "metadata");
    this.writerKey = Objects.requireNonNull(writerKey, "writerKey");
    this.log = MemberLog.forCapsule(metadata);
    this.keyring = metadata.isPrivate()
        ? new EpochKeyring(metadata.capsuleId(), encryptionKeyOrNull, List.of(writerKey.publicKey())) : null;
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

  /**
   * New signed version-3 metadata: a private capsule (docs/FORMAT.md, "Members", "Private capsules"). The
   * creator is a member by definition; a {@code writer} other than the creator is listed with read and add,
   * and so is each of {@code members} with its bits (non-zero, without superadmin). A fresh epoch secret is
   * wrapped for every reader among them, the creator included, in the genesis keystore block: the creator's
   * and the writer's cards are made with {@code encryption} (this renter's X25519 key), the others' come
   * from their member cards.
   *
   * @throws IllegalArgumentException when a card names the creator or the writer, or the metadata rules
   *     refuse a member's bits
   */
  public static SignedMetadata newPrivateMetadata(SigningKey creator, EncryptionKey encryption, SigningKey writer,
      Map<MemberCard, Integer> members, SigningPolicy policy, long maxSubRecords, long maxSubRecordBytes,
      String description, long createdAtMillis) {
    Map<PublicKey, Integer> writers = new HashMap<>();
    Map<PublicKey, MemberCard> cards = new HashMap<>();
    cards.put(creator.publicKey(), MemberCard.create(creator, encryption));
    if (!writer.publicKey().equals(creator.publicKey())) {
      writers.put(writer.publicKey(), Permissions.READ | Permissions.ADD);
      cards.put(writer.publicKey(), MemberCard.create(writer, encryption));
    }
    members.forEach((card, bits) -> {
      if (cards.containsKey(card.identity())) {
        throw new IllegalArgumentException("member " + card.identity().toHex()
            + " is the creator or the writer, a genesis member already");
      }
      writers.put(card.identity(), Objects.requireNonNull(bits, "bits"));
      cards.put(card.identity(), card);
    });
    EpochSecret secret = EpochSecret.generate(RANDOM);
    try {
      List<Keystore.Entry> entries = new ArrayList<>();
      cards.forEach((key, card) -> {
        int bits = key.equals(creator.publicKey()) ? Rights.ALL : writers.getOrDefault(key, 0);
        if ((bits & Rights.READ) != 0) {
          entries.add(secret.wrapFor(key, card.encryptionKey(), card.signature()));
        }
      });
      Keystore genesis = Keystore.rotate(secret.epochKey(), List.of(), entries);
      return SignedMetadata.sign(Metadata.createV3(creator.publicKey(), createdAtMillis, policy, maxSubRecords,
          maxSubRecordBytes, writers, description, genesis), creator);
    } finally {
      secret.destroy();
    }
  }

  /**
   * Creates a private capsule on the host ({@link #newPrivateMetadata}, then as {@link #create}) and returns
   * its writer, which reads and manages keys with {@code encryption}.
   */
  public static CapsuleWriter createPrivate(HostClient client, SigningKey creator, SigningKey writer,
      EncryptionKey encryption, Map<MemberCard, Integer> members, SigningPolicy policy, long maxSubRecords,
      long maxSubRecordBytes, String description) throws RenterException {
    SignedMetadata metadata = newPrivateMetadata(creator, encryption, writer, members, policy, maxSubRecords,
        maxSubRecordBytes, description, client.options().clock().millis());
    ProgramBuilder builder = ProgramBuilder.withoutCapsule();
    builder.createCapsule(metadata);
    ProgramResult result = client.run(builder.build());
    CapsuleWriter created = new CapsuleWriter(metadata, writer, encryption, List.of(), List.of());
    created.lastResult = result;
    return created;
  }

  /**
   * Starts a capsule whose creator (superadmin, the key that signs its metadata) is {@code creator}:
   * {@code CapsuleWriter.builder(creator).maxSubRecords(64).description("logs").create(client)}. Defaults:
   * the creator writes, {@link SigningPolicy#EVERY_RECORD}, 65,536 sub-records of at most 4,096 bytes per
   * record (the CLI's defaults), no description, not private.
   */
  public static Builder builder(SigningKey creator) {
    return new Builder(creator);
  }

  /** What a new capsule is made of, named instead of positional; {@link #create} makes it on a host. */
  public static final class Builder {
    private final SigningKey creator;
    private SigningKey writer;
    private SigningPolicy policy = SigningPolicy.EVERY_RECORD;
    private long maxSubRecords = 65_536;
    private long maxSubRecordBytes = 4_096;
    private String description = "";
    private @Nullable EncryptionKey encryptionOrNull;
    private final Map<MemberCard, Integer> members = new LinkedHashMap<>();

    private Builder(SigningKey creator) {
      this.creator = Objects.requireNonNull(creator, "creator");
      this.writer = creator;
    }

    /** The key that signs records (default: the creator); another key gets read and add. */
    public Builder writer(SigningKey key) {
      this.writer = Objects.requireNonNull(key, "writer");
      return this;
    }

    public Builder policy(SigningPolicy signingPolicy) {
      this.policy = Objects.requireNonNull(signingPolicy, "policy");
      return this;
    }

    /** The most sub-records a record may hold. */
    public Builder maxSubRecords(long most) {
      this.maxSubRecords = most;
      return this;
    }

    /** The largest sub-record, in bytes (of a private capsule: its encrypted form, 16 bytes longer). */
    public Builder maxSubRecordBytes(long most) {
      this.maxSubRecordBytes = most;
      return this;
    }

    public Builder description(String text) {
      this.description = Objects.requireNonNull(text, "description");
      return this;
    }

    /**
     * Makes the capsule private (docs/FORMAT.md, "Private capsules"): sub-records are encrypted in this
     * renter, the first epoch key wrapped for the creator and writer with {@code encryption} (this renter's
     * X25519 key) and for each {@link #member} with read.
     */
    public Builder encrypted(EncryptionKey encryption) {
      this.encryptionOrNull = Objects.requireNonNull(encryption, "encryption");
      return this;
    }

    /** A genesis member of a private capsule, with {@code rights} ({@code Rights} bits, no superadmin). */
    public Builder member(MemberCard card, int rights) {
      members.put(Objects.requireNonNull(card, "card"), rights);
      return this;
    }

    /**
     * Signs the metadata and runs the {@code CreateCapsule} program on {@code client}'s host.
     *
     * @throws IllegalStateException when members are given for a capsule that is not {@link #encrypted}
     *     (a plain capsule's members are added after it exists: {@link CapsuleWriter#addMember})
     */
    public CapsuleWriter create(HostClient client) throws RenterException {
      EncryptionKey encryption = encryptionOrNull;
      if (encryption == null) {
        if (!members.isEmpty()) {
          throw new IllegalStateException("genesis members are for private capsules; add members to a plain capsule"
              + " once it exists (addMember)");
        }
        return CapsuleWriter.create(client, creator, writer, policy, maxSubRecords, maxSubRecordBytes, description);
      }
      return createPrivate(client, creator, writer, encryption, Map.copyOf(members), policy, maxSubRecords,
          maxSubRecordBytes, description);
    }
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
   * In a private capsule each record's sub-records are encrypted under the current epoch at it (the
   * returned records hold the ciphertexts, as the host stores them).
   *
   * @throws MissingHeaderException when a skip pointer needs a header this writer does not hold
   * @throws IllegalStateException when a writer of a capsule with members lacks a membership record below
   *     its heads, may not append, or (private) finds no usable epoch
   */
  public List<RecordWithBody> buildRecords(List<List<byte[]>> bodies, long timestampMillis)
      throws MissingHeaderException {
    try {
      return buildRecords(bodies, timestampMillis, null);
    } catch (NotAllowedException | NoUsableEpochException e) {
      throw new IllegalStateException(e.getMessage(), e);
    }
  }

  /**
   * {@link #buildRecords(List, long)} of data records, or of one membership record making {@code change};
   * a version-2 or version-3 capsule's records carry auth parents and the member root, which needs every
   * membership record below the heads (held or fetched: {@link #appendRecords} fetches them).
   *
   * @throws IllegalStateException when a writer of a capsule with members lacks a membership record below
   *     its heads
   */
  private List<RecordWithBody> buildRecords(List<List<byte[]>> bodies, long timestampMillis, @Nullable Change change)
      throws MissingHeaderException, NotAllowedException, NoUsableEpochException {
    return buildOn(heads, bodies, timestampMillis, change);
  }

  /**
   * A membership change as this writer makes it: the change, and for a reader joining a private capsule its
   * member card (whose X25519 key the epoch secret is wrapped to).
   */
  private record Change(MemberChange change, @Nullable MemberCard cardOrNull) {}

  /**
   * Builds the records of one append on {@code base} (the heads, or the pipeline's tip): data records, or
   * one membership record making {@code changeOrNull}.
   */
  private List<RecordWithBody> buildOn(Map<Hash, Record> base, List<List<byte[]>> bodies, long timestampMillis,
      @Nullable Change changeOrNull) throws MissingHeaderException, NotAllowedException, NoUsableEpochException {
    RecordKind kind = changeOrNull == null ? RecordKind.DATA : RecordKind.MEMBERSHIP;
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
      RecordWithBody built;
      if (log == null) {
        built = new RecordWithBody(
            Record.build(capsuleId(), parents, payloads, timestampMillis, writerKey, sign, source), payloads);
      } else if (!log.isPrivate()) {
        built = new RecordWithBody(Record.buildV2(parents, payloads, timestampMillis, writerKey, sign, kind, source,
            log, log.membership()), payloads);
      } else {
        Record.Draft draft = Record.draft(parents, source, log, log.membership());
        built = changeOrNull == null
            ? buildEncrypted(draft, payloads, timestampMillis, sign)
            : buildChange(draft, changeOrNull, payloads, timestampMillis);
      }
      staged.put(built.hash(), built.record().header());
      out.add(built);
      parents = List.of(built.hash());
    }
    return out;
  }

  /**
   * A data record of a private capsule: each sub-record encrypted under the current epoch at the record
   * (its public key is all a writer needs), with a fresh data key for this record alone.
   *
   * @throws NotAllowedException when no epoch is usable and this writer may not append anyway
   * @throws NoUsableEpochException when no epoch is usable at the record
   */
  private RecordWithBody buildEncrypted(Record.Draft draft, List<byte[]> plaintexts, long timestampMillis, boolean sign)
      throws NotAllowedException, NoUsableEpochException {
    EpochKey epoch = draft.currentEpochOrNull();
    MemberLog held = Objects.requireNonNull(log);
    if (epoch == null) {
      PublicKey writer = writerKey.publicKey();
      String refusal = Rights.writeRefusalOrNull(draft.stateBefore(), writer);
      if (refusal != null) {
        Hash removal = held.membership().resolutionBefore(draft.authParents(), held).removedByOrNull(writer);
        throw new NotAllowedException(writer, removal, refusal + " in capsule " + capsuleId()
            + (removal == null ? "" : " (membership record " + removal + " took its bits away)"), null);
      }
      boolean reads = (draft.stateBefore().bitsOf(writer) & Rights.READ) != 0;
      throw new NoUsableEpochException(capsuleId(), reads, "no usable key in capsule " + capsuleId().toHex()
          + ": every epoch is held by someone who no longer reads (a member left, or was removed by a member"
          + " without read, or removals crossed on two branches), so " + (reads
              ? "a reader must rekey first"
              : "a reader must rekey (member rekey) before key " + writer.toHex() + ", which does not read, can write"));
    }
    long limit = metadata.metadata().maxSubRecordBytes();
    for (int i = 0; i < plaintexts.size(); i++) {
      if (plaintexts.get(i).length + (long) RecordCipher.OVERHEAD > limit) {
        throw new IllegalArgumentException("sub-record " + i + " is " + plaintexts.get(i).length + " bytes: encrypted"
            + " it is " + (plaintexts.get(i).length + RecordCipher.OVERHEAD) + ", over the capsule's limit of "
            + limit + " bytes (a private capsule stores each sub-record with a 16-byte tag)");
      }
    }
    RecordCipher cipher = RecordCipher.forWriter(epoch, capsuleId(), writerKey.publicKey(), draft.height(), RANDOM);
    try {
      List<byte[]> sealed = new ArrayList<>(plaintexts.size());
      for (int i = 0; i < plaintexts.size(); i++) {
        sealed.add(cipher.seal(i, plaintexts.get(i)));
      }
      Record record = draft.build(sealed, timestampMillis, writerKey, sign, RecordKind.DATA, epoch, cipher.enc());
      return new RecordWithBody(record, sealed);
    } finally {
      cipher.destroy();
    }
  }

  /**
   * A membership record of a private capsule: the change body, and the keystore block the change needs
   * (docs/FORMAT.md, "Keystore rules"):
   *
   * <ul>
   *   <li>taking read from another member, and a rekey: a rotation (a fresh epoch wrapped for the readers
   *       after the record, linked to the epochs this writer holds);
   *   <li>a member leaving (taking its own read): none, and then no epoch is usable until a reader rekeys;
   *   <li>giving read: a forward of the current epoch to the new reader's card when this writer holds it,
   *       else a rotation;
   *   <li>anything else: none.
   * </ul>
   */
  private RecordWithBody buildChange(Record.Draft draft, Change change, List<byte[]> payloads, long timestampMillis) {
    Keystore block = keystoreFor(draft, change);
    List<byte[]> stored = new ArrayList<>(payloads);
    if (block != null) {
      long limit = metadata.metadata().maxSubRecordBytes();
      if (block.encodedLength() > limit) {
        throw new IllegalStateException("the keystore block this change needs wraps epoch " + block.epochKey()
            + " for " + block.entries().size() + " reader(s): " + block.encodedLength() + " bytes, over capsule "
            + capsuleId() + "'s limit of " + limit + " bytes per sub-record (37 bytes and 208 per reader; a"
            + " private capsule for more readers needs a larger max sub-record bytes)");
      }
      stored.add(block.encode());
    }
    Record record = draft.build(stored, timestampMillis, writerKey, true, RecordKind.MEMBERSHIP, null, null);
    return new RecordWithBody(record, stored);
  }

  private @Nullable Keystore keystoreFor(Record.Draft draft, Change change) {
    MemberState before = draft.stateBefore();
    Epochs epochs = Objects.requireNonNull(draft.epochsOrNull(), "a private capsule's draft has epochs");
    if (change.change() instanceof MemberChange.Rekey) {
      return rotation(before, epochs, null);
    }
    if (!(change.change() instanceof MemberChange.SetMember set)) {
      return null;
    }
    boolean readBefore = (before.bitsOf(set.member()) & Rights.READ) != 0;
    boolean readAfter = (set.bits() & Rights.READ) != 0;
    MemberState after = before.withMember(set.member(), set.bits());
    if (readBefore && !readAfter) {
      // A member leaving would hold the new secret itself: its rotation could never be used. None, then.
      return set.member().equals(writerKey.publicKey()) ? null : rotation(after, epochs, null);
    }
    if (readBefore || !readAfter) {
      return null;
    }
    MemberCard card = change.cardOrNull();
    if (card == null) {
      throw new IllegalArgumentException("capsule " + capsuleId() + " is private: member " + set.member().toHex()
          + " is given read, so it must be added with its member card (cvm-member1:..., whose X25519 key the"
          + " capsule's key is wrapped to), not with its identity key alone");
    }
    EpochKey current = epochs.currentOrNull();
    EpochSecret held = current == null || keyring == null ? null : keyring.secretOrNull(current, log().keystores());
    if (held != null) {
      return Keystore.forward(held.epochKey(),
          List.of(held.wrapFor(card.identity(), card.encryptionKey(), card.signature())));
    }
    return rotation(after, epochs, card);
  }

  /**
   * A rotate block: a fresh epoch secret wrapped for every reader of {@code after}, and previous links to
   * the epochs this writer holds, as few as keep every one of them reachable from the new epoch.
   */
  private Keystore rotation(MemberState after, Epochs epochs, @Nullable MemberCard newCardOrNull) {
    List<Keystore> blocks = log().keystores();
    EpochSecret secret = EpochSecret.generate(RANDOM);
    try {
      List<Keystore.Entry> entries = new ArrayList<>();
      for (PublicKey reader : Epochs.readersOf(after)) {
        Card card = cardOf(reader, newCardOrNull, blocks);
        entries.add(secret.wrapFor(reader, card.x25519(), card.signature()));
      }
      List<Keystore.PreviousLink> links = new ArrayList<>();
      long room = (metadata.metadata().maxSubRecordBytes() - 37 - (long) Keystore.ENTRY_LENGTH * entries.size())
          / Keystore.LINK_LENGTH;
      if (keyring != null) {
        List<EpochKey> newestFirst = new ArrayList<>(epochs.all());
        Collections.reverse(newestFirst);
        Set<EpochKey> reachable = new HashSet<>();
        for (EpochKey older : newestFirst) {
          // The block is a sub-record: its links stop where the capsule's size limit would be passed.
          if (links.size() >= Math.min(Keystore.MAX_PREVIOUS, room) || reachable.contains(older)) {
            continue;
          }
          EpochSecret olderSecret = keyring.secretOrNull(older, blocks);
          if (olderSecret != null) {
            links.add(secret.sealPrevious(olderSecret));
            reachable.addAll(EpochKeyring.reachableFrom(older, blocks));
          }
        }
      }
      return Keystore.rotate(secret.epochKey(), links, entries);
    } finally {
      secret.destroy();
    }
  }

  /** A reader's X25519 key and the card signature binding it to the reader's identity. */
  @SuppressWarnings("ArrayRecordComponent") // private, never compared
  private record Card(byte[] x25519, Signature signature) {}

  /**
   * The card of {@code reader}: the new member's card, this writer's own when it holds an X25519 key, else
   * the one the latest keystore entry naming the reader carries.
   *
   * @throws IllegalStateException when no block names the reader (a membership record is missing)
   */
  private Card cardOf(PublicKey reader, @Nullable MemberCard newCardOrNull, List<Keystore> blocks) {
    if (newCardOrNull != null && newCardOrNull.identity().equals(reader)) {
      return new Card(newCardOrNull.encryptionKey(), newCardOrNull.signature());
    }
    EncryptionKey own = keyring == null ? null : keyring.keyOrNull();
    if (own != null && reader.equals(writerKey.publicKey())) {
      MemberCard mine = MemberCard.create(writerKey, own);
      return new Card(mine.encryptionKey(), mine.signature());
    }
    Keystore.Entry latest = null;
    for (Keystore block : blocks) {
      Keystore.Entry entry = block.entryOrNull(reader);
      if (entry != null) {
        latest = entry;
      }
    }
    if (latest == null) {
      throw new IllegalStateException("no keystore block of capsule " + capsuleId() + " names reader "
          + reader.toHex() + ": its X25519 key is unknown");
    }
    return new Card(latest.x25519(), latest.cardSignature());
  }

  private MemberLog log() {
    return Objects.requireNonNull(log, "a capsule with members has a member log");
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
   * <p>In a private capsule the sub-records are encrypted under the current epoch (the returned records
   * hold the ciphertexts). When no epoch is usable, a writer that holds read appends a rekey first; when
   * the host refuses the append for its epoch ({@code STALE_EPOCH}: a membership change this writer had
   * not seen retired it), the writer refreshes its heads and membership records and rebuilds, once.
   *
   * @throws AppendConflictException when the retries ran out; the writer holds the latest verified heads
   * @throws NoUsableEpochException (private capsules) no epoch is usable and this writer does not read, so
   *     it cannot rekey: a reader must
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
      @Nullable Change changeOrNull) throws RenterException {
    requireNoPendingAppends(changeOrNull == null ? "append" : "change the members");
    boolean staleEpochRetried = false;
    for (int attempt = 0; ; attempt++) {
      boolean last = attempt >= client.options().appendRetries();
      List<RecordWithBody> records = buildRecords(client, bodies, changeOrNull);
      ProgramBuilder builder = newProgram(client);
      int append = builder.append(records);
      PreparedProgram program = changeOrNull == null ? receiptPlan(client, builder.build(), 1) : builder.build();
      try {
        ProgramResult result = client.run(program);
        appended(records, result);
        if (changeOrNull != null) {
          Objects.requireNonNull(log).add(records.get(0));
        }
        return records;
      } catch (AppendConflictException e) {
        adoptHeads(e.currentHeads());
        signNext();
        if (last) {
          throw e;
        }
      } catch (WriteCommittedException e) {
        committedDespiteEnd(records, e);
        throw e;
      } catch (ProgramFailedException e) {
        signNext();
        if (e.reason() == ProgramFailedException.Reason.WRITER_NOT_ALLOWED) {
          throw notAllowedOr(e, changeOrNull == null ? null : changeOrNull.change());
        }
        if (e.reason() == ProgramFailedException.Reason.STALE_EPOCH && !staleEpochRetried) {
          // A membership change this writer had not seen retired the epoch: learn it and rebuild, once.
          staleEpochRetried = true;
          refreshHeads(client);
          continue;
        }
        if (last || e.reason() != ProgramFailedException.Reason.BUDGET || e.instructionIndex() != append) {
          throw e;
        }
        refreshHeads(client);
      }
    }
  }

  /**
   * Builds and signs {@code bodies} as data records and returns without waiting for the host: the records
   * build on the last pending append's last record, or on the heads when none is pending (then, for a
   * version-2 capsule, the membership records below them are fetched first, as {@link #appendRecords}
   * does). The append is sent now when the pipeline is idle, else with the next flight, as soon as the
   * flight before it holds the capsule (see {@link AppendPipeline}): one program for every append
   * submitted meanwhile (at most {@value AppendPipeline#MAX_APPENDS_PER_FLIGHT}, and 1 MiB of sub-records
   * unless one append is larger), paid for by its estimate.
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
   * estimate, or {@link RenterOptions#budgetOrNull()} when set). An append with a budget of its own is
   * sent in a program of its own.
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
    Amount budget = budgetOrNull != null ? budgetOrNull : client.options().budgetOrNull();
    long bytes = 0;
    for (List<byte[]> body : bodies) {
      for (byte[] subRecord : body) {
        bytes += subRecord.length;
      }
    }
    PendingAppend pending = new PendingAppend(this, ++submitted, records, tip, expectedHeads, bytes, client, budget);
    records.forEach(r -> pendingHeaders.put(r.hash(), r.record().header()));
    pipeline.addLast(pending);
    flights.submit(pending);
    return pending;
  }

  /**
   * The program of one append of {@code records} on {@code expectedHeads}, {@code appends} appends of the
   * caller's, to be run by {@code client}. Reads nothing this writer changes but {@link #sealedInARow}, so
   * a pool thread may build it (a flight of pipelined appends).
   */
  PreparedProgram appendProgram(HostClient client, List<RecordHeader> expectedHeads, List<RecordWithBody> records,
      int appends) {
    Map<Hash, RecordHeader> headers = new HashMap<>();
    expectedHeads.forEach(h -> headers.put(h.hash(), h));
    records.forEach(r -> headers.put(r.hash(), r.record().header()));
    ProgramBuilder builder = new ProgramBuilder(capsuleId(), metadata, expectedHeads, headers::get);
    builder.append(records);
    return receiptPlan(client, builder.build(), appends);
  }

  /**
   * {@code program}, of {@code appends} appends, with leave to have its receipt sealed while the appends
   * sent since the last one sent for a signed receipt, its own included, are at most {@link
   * RenterOptions#sealedAppends()}; else as it is: its receipt is signed, and the heads it commits vouch
   * for every record below them, the sealed ones included (docs/PROTOCOL.md, "Sealed receipts").
   */
  private PreparedProgram receiptPlan(HostClient client, PreparedProgram program, int appends) {
    synchronized (receiptPlans) {
      if (sealedInARow + appends <= client.options().sealedAppends()) {
        sealedInARow += appends;
        return program.withSealableReceipt();
      }
      sealedInARow = 0;
      return program;
    }
  }

  /**
   * The next append asks for a signed receipt: one failed, and it may have been the one to vouch for the
   * sealed ones before it.
   */
  private void signNext() {
    synchronized (receiptPlans) {
      sealedInARow = Integer.MAX_VALUE / 2;
    }
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
    if (pipeline.isEmpty()) {
      flights.reset();
    }
  }

  /**
   * Settles one pipelined append, the oldest pending. Its flight's end is always awaited when it was
   * sent, whatever happened before it: only the host's verified answer says whether its records are in the
   * capsule (after an append whose commit is unknown, the next one may still commit). The appends of a
   * flight share its outcome, except when a flight of several wrote nothing (refused before it ran, or
   * failed by the host): each then runs alone, in order, for an outcome of its own.
   */
  private void settle(PendingAppend p) {
    p.records().forEach(r -> pendingHeaders.remove(r.hash()));
    AppendPipeline.Flight flight = p.flightOrNull();
    ProgramRun run = null;
    RenterException own;
    if (flight == null) {
      own = p.submitFailureOrNull(); // null when it was held back
    } else {
      flight.await();
      boolean first = flight.members().get(0) == p;
      ProgramResult shared = flight.resultOrNull();
      own = flight.failureOrNull();
      if (shared != null) {
        if (first) {
          appended(flight.records(), shared);
        }
        p.settle(true, shared, null);
        return;
      }
      if (own instanceof WriteCommittedException e) {
        if (first) {
          committedDespiteEnd(flight.records(), e);
        }
        p.settle(true, null, e);
        return;
      }
      if (flight.members().size() > 1
          && (ranNothing(flight.run(), own) || own instanceof ProgramFailedException)) {
        own = null; // nothing of the flight was written: this append runs alone below
      } else if (first) {
        run = flight.run();
      } else {
        own = null; // the same program as the flight's first append, which carries the failure
      }
    }
    PendingAppend before = p.dependsOnOrNull();
    boolean brokenBefore = before != null && !before.isCommitted();
    ProgramResult result = null;
    if (!brokenBefore && ranNothing(run, own)) {
      // Refused before it ran (a busy host, a stale table), not sent, held back behind an append that has
      // committed since, or in a flight that wrote nothing: nothing of it reached the capsule, so it runs
      // now, alone, in this thread.
      PreparedProgram alone = appendProgram(p.client, p.expectedHeads(), p.records(), 1);
      try {
        result = p.budgetOrNull != null ? p.client.run(alone, p.budgetOrNull) : p.client.run(alone);
        own = null;
      } catch (RenterException e) {
        own = e;
      }
    }
    if (result != null) {
      appended(p.records(), result);
      p.settle(true, result, null);
    } else if (before != null && brokenBefore) {
      p.settle(false, null, new AppendDependencyException(p, before, before.failure(), own));
    } else if (own instanceof WriteCommittedException e) {
      committedDespiteEnd(p.records(), e);
      p.settle(true, null, e);
    } else {
      RenterException failure = Objects.requireNonNull(own, "an append that ran and did not commit failed");
      if (failure instanceof AppendConflictException e) {
        adoptHeads(e.currentHeads());
      }
      signNext();
      p.settle(false, null, notAllowedOr(failure, null));
    }
  }

  /**
   * Adopts {@code records}, committed by {@code result}, whose receipt becomes the claim for the heads when
   * it is signed; a sealed one is no claim, so the heads have none until a signed receipt or a {@code Heads}
   * output ({@link #refreshHeads}) vouches for them.
   */
  private void appended(List<RecordWithBody> records, ProgramResult result) {
    committed(records, result.committedHeads());
    if (result.isReceiptSigned()) {
      Claim claim = new Claim.CommittedHeads(result.signedReceipt());
      heads.keySet().forEach(h -> claims.put(h, claim));
    }
    lastResult = result;
  }

  /** Adopts {@code records}, which the host committed before its end failed verification. */
  private void committedDespiteEnd(List<RecordWithBody> records, WriteCommittedException e) {
    records.forEach(r -> known.put(r.hash(), r.record().header()));
    adoptHeads(e.committedHeads());
    signNext();
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
        List<RecordWithBody> records = buildOn(base, bodies, client.options().clock().millis(), null);
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
      @Nullable Change changeOrNull) throws RenterException {
    if (log != null) {
      List<RecordHeader> tops = headHeaders();
      log.fetchBelow(client, tops);
      log.checkHeads(client, tops);
    }
    boolean refreshed = false;
    boolean rekeyed = false;
    while (true) {
      try {
        List<RecordWithBody> records = buildRecords(bodies, client.options().clock().millis(), changeOrNull);
        checkAllowed(records.get(0).record().header(), changeOrNull == null ? null : changeOrNull.change());
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
      } catch (NoUsableEpochException e) {
        // Every epoch is held by a former reader. A reader may have rekeyed above these heads: look once;
        // then a reader starts a fresh epoch itself, and writes under it.
        if (!refreshed) {
          refreshHeads(client);
          refreshed = true;
        } else if (rekeyed || !e.writerReads()) {
          throw e;
        } else {
          rekeyed = true;
          rekey(client);
        }
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
   * <p>In a private capsule the record carries the keystore block the change needs: taking read from
   * another member starts a new epoch (a rotation wrapped for the readers left, so that nothing written
   * after it opens for the member); giving read needs the member's card ({@link #setMember(HostClient,
   * MemberCard, int)}).
   *
   * @return the membership record, committed
   * @throws NotAllowedException when this writer's key may not make the change (by its view or the host's)
   * @throws IllegalStateException for a version-1 capsule, whose writers are fixed
   * @throws IllegalArgumentException in a private capsule, when the change gives read to a member without it
   *     (its card is needed)
   * @throws IllegalStateException in a private capsule, when the keystore block the change needs does not fit
   *     the capsule's max sub-record bytes (208 bytes per reader)
   */
  public RecordWithBody setMember(HostClient client, PublicKey member, int bits) throws RenterException {
    return change(client, new Change(new MemberChange.SetMember(member, bits), null));
  }

  /**
   * {@link #setMember(HostClient, PublicKey, int)} of the member {@code card} names. In a private capsule,
   * when the change gives it read, the current epoch's secret is wrapped for the card's X25519 key (a
   * forward block; a rotation when this writer does not hold the current epoch), and the member reads
   * older history through the epochs' previous links.
   */
  public RecordWithBody setMember(HostClient client, MemberCard card, int bits) throws RenterException {
    return change(client, new Change(new MemberChange.SetMember(card.identity(), bits), card));
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

  /**
   * Adds the member {@code card} names with {@code bits} (non-zero), wrapping the current epoch for it in a
   * private capsule when the bits hold read; for a member already there it sets its bits.
   *
   * @see #setMember(HostClient, MemberCard, int)
   */
  public RecordWithBody addMember(HostClient client, MemberCard card, int bits) throws RenterException {
    if (bits == 0) {
      throw new IllegalArgumentException("a member is added with some bits; removeMember removes one");
    }
    return setMember(client, card, bits);
  }

  /**
   * Removes {@code member} (its bits become 0): its later appends are refused. In a private capsule,
   * removing a reader starts a new epoch that it cannot open; it keeps what it could read before. A member
   * removing itself starts none: no epoch is usable then until a reader rekeys (which this SDK does before
   * its next write when it reads). @see #setMember
   */
  public RecordWithBody removeMember(HostClient client, PublicKey member) throws RenterException {
    return setMember(client, member, 0);
  }

  /** Sets the capsule's retention policy (needs superadmin). @see #setMember */
  public RecordWithBody setRetention(HostClient client, RetentionPolicy policy) throws RenterException {
    return change(client, new Change(new MemberChange.SetRetention(policy), null));
  }

  /**
   * Starts a new epoch of a private capsule without changing any member (needs read): a fresh secret
   * wrapped for every reader, linked to the epochs this writer holds. What makes data writable again when
   * no epoch is usable (after a member left, or removals crossed on two branches).
   *
   * @return the membership record, committed
   * @throws IllegalStateException when the capsule is not private
   */
  public RecordWithBody rekey(HostClient client) throws RenterException {
    if (!metadata.isPrivate()) {
      throw new IllegalStateException("capsule " + capsuleId() + " is not private: it has no keys to rotate");
    }
    return change(client, new Change(new MemberChange.Rekey(), null));
  }

  private RecordWithBody change(HostClient client, Change change) throws RenterException {
    if (log == null) {
      throw new IllegalStateException("capsule " + capsuleId() + " has version-1 metadata: its writers are fixed");
    }
    return appendRecords(client, List.of(List.of(change.change().encode())), change).get(0);
  }

  /** Whether the capsule is private (version-3 metadata): its data sub-records are ciphertexts. */
  public boolean isPrivate() {
    return metadata.isPrivate();
  }

  /**
   * The plaintext of a verified {@code ReadSubRecord} output of this capsule (a program built with
   * {@link #newProgram}): in a private capsule the payload, verified first, is decrypted with the epoch's
   * secret, which this writer finds through its own keystore entries or previous links (fetching the
   * membership records below its heads it lacks, and once refreshing its heads when that is not enough);
   * in any other capsule it is the payload.
   *
   * @throws MissingEpochKeyException when this writer holds no key for the record's epoch (written before it
   *     was given read, or after its read was taken away)
   * @throws DecryptionFailedException when a key that should open it does not (a wrong key, a changed wrap
   *     or ciphertext): never garbage plaintext
   * @throws SubRecordDroppedException when the payload was dropped under the retention policy
   */
  public byte[] plaintext(HostClient client, VerifiedOutput read) throws RenterException {
    EpochKeyring held = keyring;
    if (held == null) {
      return read.payload();
    }
    log().fetchBelow(client, headHeaders());
    try {
      return held.plaintext(read, log().keystores());
    } catch (MissingEpochKeyException e) {
      // The wrap that reaches this writer may lie above the heads it knows.
      refreshHeads(client);
      return held.plaintext(read, log().keystores());
    }
  }

  /**
   * Reads sub-record {@code index} of record {@code record}, proven from this writer's highest head (its
   * heads refreshed first when it knows none, or when the record is not below them), and returns its
   * {@linkplain #plaintext plaintext}.
   */
  public byte[] read(HostClient client, Hash record, long index) throws RenterException {
    if (highestHead() == null) {
      refreshHeads(client);
    }
    for (boolean refreshed = false; ; refreshed = true) {
      RecordHeader anchor = highestHead();
      if (anchor == null) {
        throw new RenterException("capsule " + capsuleId() + " has no records yet");
      }
      ProgramBuilder builder = newProgram(client);
      builder.readSubRecord(record, index, anchor);
      try {
        ProgramResult result = client.run(builder.build());
        lastResult = result;
        return plaintext(client, result.output(0));
      } catch (ProgramFailedException e) {
        // The record may lie above the heads this writer knows: refresh them and try once more.
        if (refreshed || e.reason() != ProgramFailedException.Reason.NOT_FOUND) {
          throw e;
        }
        refreshHeads(client);
      }
    }
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
