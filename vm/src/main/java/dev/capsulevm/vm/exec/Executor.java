package dev.capsulevm.vm.exec;

import dev.capsulevm.pricing.BudgetExceededException;
import dev.capsulevm.pricing.InstructionDescriptor;
import dev.capsulevm.pricing.Meter;
import dev.capsulevm.pricing.Reservation;
import dev.capsulevm.pricing.SignedReceipt;
import dev.capsulevm.program.AppendEncoding;
import dev.capsulevm.program.DataRef;
import dev.capsulevm.program.Instruction;
import dev.capsulevm.program.Output;
import dev.capsulevm.program.OutputBounds;
import dev.capsulevm.program.OutputEncoding;
import dev.capsulevm.program.Program;
import dev.capsulevm.program.ProgramException;
import dev.capsulevm.program.RecordSelector;
import dev.capsulevm.program.Transcript;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.VerificationException.Failure;
import dev.capsulevm.proofs.capsule.Record;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.RecordKind;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proofs.integrity.ProofGenerator;
import dev.capsulevm.proofs.integrity.RecordProof;
import dev.capsulevm.proofs.integrity.SubRecordProof;
import dev.capsulevm.proofs.members.Changelog;
import dev.capsulevm.proofs.members.MemberState;
import dev.capsulevm.proofs.merkle.LeafProof;
import dev.capsulevm.vm.ProgramData;
import dev.capsulevm.vm.exec.ProgramStoppedException.Reason;
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
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * Runs programs against a {@link CapsuleStorage}.
 *
 * <p>Concurrency: a read-write program holds its capsule's single write permit from before it opens its
 * snapshot until its {@link PendingCommit} is confirmed, refused or expires, so read-write programs on
 * one capsule run one at a time. Read-only programs take no permit: each reads its own snapshot, which
 * later commits never change, so they run in parallel with each other and with a writer. A read-write
 * program that names no capsule (it only creates capsules) takes no permit; storage refuses a second
 * creation of the same capsule at commit.
 *
 * <p>Per instruction, in order: wait for its referenced bytes only, compute its {@link
 * InstructionDescriptor} (see {@link #describe}), charge the meter, execute against the program's view
 * (snapshot plus the writes staged earlier in the same program; {@code HasRecord} and {@code ReadByHash}
 * use storage's committed cross-capsule lookups instead, made once before the charge), hand the output
 * with its canonical bytes and transcript leaf to the consumer ({@link InstructionOutput}) and release the
 * program data below what later instructions reference. The executor does not charge outputs: the
 * consumer charges each with {@link Meter#chargeOutput} when it sends it, so that the receipt's
 * transcript holds exactly the outputs sent.
 *
 * <p>Members: an append to a version-2 or version-3 capsule passes the objective rule (each record's
 * writer held the right in the state before it; in a private capsule, each data record is written under
 * the current epoch at it) and then the live check against the members the host holds now ({@link
 * CapsuleMembers#checkLive}: the writer's right, and a data record's epoch still usable). A refused writer
 * stops the program with {@link Reason#WRITER_NOT_ALLOWED}, a refused epoch with {@link
 * Reason#STALE_EPOCH}. Proofs of version-2 and 3 records carry the writer's member entry. Both use the
 * capsule's {@link CapsuleMembers}, kept between programs.
 *
 * <p>A failing instruction stops the program: the staged batch is aborted, the meter is failed (its
 * receipt states the instruction, the reason's wire number and the exception's message, unless the meter
 * was failed before) and closed (refunding the storage part), the program data is failed (waking a
 * producer waiting for room) and {@link ProgramStoppedException} is thrown carrying the signed receipt;
 * the consumer has already received every earlier output. The receipt names the capsule the meter was
 * opened with, which must be the program's.
 */
public final class Executor {
  private final CapsuleStorage storage;
  private final Clock clock;
  private final Duration commitTimeout;
  private final Duration dataTimeout;
  private final SigningKey hostKey;
  private final ScheduledExecutorService scheduler;
  private final boolean verifySignatures;
  private final long outputEnvelopeBytes;
  /** Per capsule, its validators and parsed membership records, kept between programs. */
  private final MemberCache members = new MemberCache();
  /** Per capsule, the write permit and how many programs hold it or wait for it; dropped when none do. */
  private final Map<Hash, WritePermit> writePermits = new ConcurrentHashMap<>();

  /**
   * A capsule's single write permit. {@code users} counts the programs holding or waiting for it and
   * changes only inside {@code compute} on the map, so an entry is removed exactly when nobody holds or
   * waits for it, and a program that arrives later finds either the live entry or none (and makes one).
   */
  private static final class WritePermit {
    final Semaphore semaphore = new Semaphore(1);
    int users;
  }

  /**
   * @param clock sets pending commits' deadlines and is checked on confirm
   * @param commitTimeout how long a pending commit waits for confirm before it is discarded
   * @param dataTimeout how long an instruction waits for its referenced program data
   * @param outputEnvelopeBytes what the transport adds to each output's canonical bytes; charged as
   *     bandwidth with every output bound (the host passes its response message's envelope)
   * @param hostKey signs receipts
   * @param scheduler discards pending commits at their deadline (the caller owns and shuts it down)
   */
  public Executor(CapsuleStorage storage, Clock clock, Duration commitTimeout, Duration dataTimeout,
      long outputEnvelopeBytes, SigningKey hostKey, ScheduledExecutorService scheduler) {
    this(storage, clock, commitTimeout, dataTimeout, outputEnvelopeBytes, hostKey, scheduler, true);
  }

  /**
   * An executor that checks every rule of an append but the Ed25519 verification of its signatures. Only
   * for measuring what signature checks cost (the bench runner's {@code verifiable} experiment); a host
   * never runs one.
   */
  public static Executor withoutSignatureVerification(CapsuleStorage storage, Clock clock, Duration commitTimeout,
      Duration dataTimeout, long outputEnvelopeBytes, SigningKey hostKey, ScheduledExecutorService scheduler) {
    return new Executor(storage, clock, commitTimeout, dataTimeout, outputEnvelopeBytes, hostKey, scheduler, false);
  }

  private Executor(CapsuleStorage storage, Clock clock, Duration commitTimeout, Duration dataTimeout,
      long outputEnvelopeBytes, SigningKey hostKey, ScheduledExecutorService scheduler, boolean verifySignatures) {
    if (outputEnvelopeBytes < 0) {
      throw new IllegalArgumentException("outputEnvelopeBytes < 0");
    }
    this.verifySignatures = verifySignatures;
    this.outputEnvelopeBytes = outputEnvelopeBytes;
    this.storage = Objects.requireNonNull(storage, "storage");
    this.clock = Objects.requireNonNull(clock, "clock");
    this.commitTimeout = Objects.requireNonNull(commitTimeout, "commitTimeout");
    this.dataTimeout = Objects.requireNonNull(dataTimeout, "dataTimeout");
    this.hostKey = Objects.requireNonNull(hostKey, "hostKey");
    this.scheduler = Objects.requireNonNull(scheduler, "scheduler");
  }

  /** A failure inside the run, before the meter is settled. */
  private static final class Stop extends Exception {
    final Reason reason;

    Stop(Reason reason, @Nullable String message, @Nullable Throwable cause) {
      super(message, cause);
      this.reason = reason;
    }

    Stop(Reason reason, String message) {
      this(reason, message, null);
    }
  }

  /**
   * Runs {@code program}, feeding each output to {@code consumer} as soon as it exists.
   *
   * @param meter opened for this program (naming its capsule); the executor closes it (now for a
   *     read-only program or a failure, at the end of the commit handshake otherwise)
   * @return {@link Outcome.Finished} for a read-only program, a {@link PendingCommit} otherwise
   */
  public Outcome run(Program program, ProgramData data, Meter meter, Consumer<InstructionOutput> consumer)
      throws ProgramStoppedException {
    return run(program, data, meter, null, consumer);
  }

  /**
   * Runs {@code program} like {@link #run(Program, ProgramData, Meter, Consumer)}, paid by {@code payerOrNull}:
   * when it is read-write and has a payer, its confirmed commit writes the program's settlement (its cost,
   * its withdrawal's nonce) to the storage's ledger in the same atomic commit as its writes (see {@link
   * PendingCommit}), and the records it appends keep the payer's account as the one their storage was paid
   * from. Read-only and failed programs settle through the meter's refunder, which must therefore settle
   * the same reservation ({@link dev.capsulevm.pricing.Reservations#refunderFor}).
   */
  public Outcome run(Program program, ProgramData data, Meter meter, @Nullable Reservation payerOrNull,
      Consumer<InstructionOutput> consumer) throws ProgramStoppedException {
    Hash capsuleId = program.capsuleIdOrNull();
    boolean writes = !program.isReadOnly();
    Ahead ahead = writes ? readAhead(program, data) : Ahead.NONE;
    Runnable release = () -> { };
    if (writes && capsuleId != null) {
      WritePermit permit = writePermits.compute(capsuleId, (k, v) -> {
        WritePermit p = v == null ? new WritePermit() : v;
        p.users++;
        return p;
      });
      try {
        permit.semaphore.acquire();
      } catch (InterruptedException e) {
        leave(capsuleId);
        Thread.currentThread().interrupt();
        throw settle(meter, null, null, new Stop(Reason.INTERRUPTED, "interrupted waiting for the write permit"), -1);
      }
      release = () -> {
        permit.semaphore.release();
        leave(capsuleId);
      };
    }
    Batch batch = null;
    StagedView view = null;
    int index = -1;
    boolean handedOver = false;
    try {
      view = new StagedView(capsuleId, openSnapshotIfAny(program));
      batch = writes ? storage.newBatch() : null;
      List<Instruction> instructions = program.instructions();
      for (index = 0; index < instructions.size(); index++) {
        Instruction instruction = instructions.get(index);
        Map<DataRef, byte[]> inputs = awaitInputs(instruction, data, ahead);
        Lookup found = lookUp(instruction, inputs);
        InstructionDescriptor charged = describe(instruction, inputs, view, found);
        try {
          meter.chargeInstruction(charged);
        } catch (BudgetExceededException e) {
          throw new Stop(Reason.BUDGET, e.getMessage(), e);
        }
        Output output = execute(instruction, inputs, view, batch, found, payer(meter, payerOrNull), ahead);
        byte[] encoded = OutputEncoding.encode(output);
        Hash leaf = Transcript.leaf(index, instruction, refBytes(instruction, inputs), encoded);
        consumer.accept(new InstructionOutput(index, output, encoded, leaf, charged, meter.charged().total()));
        data.releaseBefore(program.lowestOffsetReferencedFrom(index + 1));
      }
      if (batch == null) { // read-only
        return new Outcome.Finished(meter.close().sign(hostKey));
      }
      List<Hash> heads = view.metadataOrNull() == null ? List.of() : view.heads();
      PendingCommit pending = new PendingCommit(batch, meter, release, hostKey, clock,
          clock.instant().plus(commitTimeout), heads, meter.charged().total(), payerOrNull);
      handedOver = true;
      try {
        pending.setTimer(scheduler.schedule(pending::expire, commitTimeout.toNanos(), TimeUnit.NANOSECONDS));
      } catch (RuntimeException e) {
        pending.expire();
        throw e;
      }
      return pending;
    } catch (Stop stop) {
      data.fail("instruction " + index + " failed: " + stop.getMessage());
      throw settle(meter, batch, release, stop, index);
    } catch (RuntimeException | Error e) {
      if (!handedOver) {
        // A consumer that stops the program by throwing fails the meter first, with its own reason.
        int failed = index < program.instructions().size() ? index : ProgramStoppedException.NO_INSTRUCTION;
        settle(meter, batch, release, new Stop(Reason.INVALID_INPUT, "unexpected failure", e), failed);
      }
      throw e;
    } finally {
      if (view != null) {
        view.close();
      }
    }
  }

  /** One program stops holding or waiting for the capsule's permit; the last one drops the entry. */
  private void leave(Hash capsuleId) {
    writePermits.computeIfPresent(capsuleId, (k, v) -> --v.users == 0 ? null : v);
  }

  /** How many capsules have a write permit entry now (held or waited for); for tests. */
  int writePermitEntries() {
    return writePermits.size();
  }

  private ProgramStoppedException settle(Meter meter, @Nullable Batch batchOrNull, @Nullable Runnable releaseOrNull,
      Stop stop, int index) {
    if (batchOrNull != null) {
      batchOrNull.abort();
    }
    meter.fail(index, stop.reason.wireNumber(), ProgramStoppedException.text(index, stop.getMessage()));
    SignedReceipt receipt = meter.close().sign(hostKey);
    if (releaseOrNull != null) {
      releaseOrNull.run();
    }
    return new ProgramStoppedException(stop.reason, index, stop.getMessage(), receipt, stop.getCause());
  }

  private @Nullable Snapshot openSnapshotIfAny(Program program) throws Stop {
    Hash id = program.capsuleIdOrNull();
    if (id == null || !program.needsSnapshot() || !storage.hasCapsule(id)) {
      return null;
    }
    try {
      return storage.openSnapshot(id);
    } catch (StorageException e) {
      throw new Stop(Reason.NOT_FOUND, "capsule " + id + ": " + e.getMessage(), e);
    }
  }

  /**
   * What a write program learned before it waited for the capsule: its appends' data, with the records
   * parsed from it and every signature among them checked (each {@link Record} keeps its check; null
   * records when the data does not parse), and the data that did not arrive in time for that. Each append's
   * part is forgotten once the append took it, so nothing is kept past its use.
   */
  private record Ahead(Map<DataRef, Early> arrived, Map<DataRef, ProgramException> late) {
    static final Ahead NONE = new Ahead(Map.of(), Map.of());

    /** An append's data and the records parsed from it (null when it does not parse). */
    static final class Early {
      final byte[] bytes;
      final @Nullable List<RecordWithBody> recordsOrNull;

      Early(byte[] bytes, @Nullable List<RecordWithBody> recordsOrNull) {
        this.bytes = bytes;
        this.recordsOrNull = recordsOrNull;
      }
    }

    /** The data of {@code ref}, if it arrived ahead. */
    byte @Nullable [] bytesOrNull(DataRef ref) {
      Early early = arrived.get(ref);
      return early == null ? null : early.bytes;
    }

    /** The records parsed from {@code ref} ahead, if they were; forgets the append's part. */
    @Nullable List<RecordWithBody> takeRecords(DataRef ref) {
      Early early = arrived.isEmpty() ? null : arrived.remove(ref);
      return early == null ? null : early.recordsOrNull;
    }
  }

  /**
   * Waits for the data of the program's appends, parses it and checks every signature in it, before the
   * program waits for the capsule's write permit: a program waiting for its data holds no permit (a slow
   * upload no longer stalls the capsule's other writers), and with write programs queued on one capsule,
   * one program's signatures are verified while the program ahead of it holds the capsule, on another
   * core, instead of inside the capsule's one-at-a-time section. Nothing here decides anything: a record that does not parse or verify is refused by the append
   * itself, in the program's order, and data that did not arrive within the data timeout fails the
   * program when it gets there, as it would have, without a second wait. Work done for a program that then
   * stops for its budget is bounded by its data, which it paid to upload.
   */
  private Ahead readAhead(Program program, ProgramData data) {
    Map<DataRef, Ahead.Early> arrived = new HashMap<>();
    Map<DataRef, ProgramException> late = new HashMap<>();
    for (Instruction instruction : program.instructions()) {
      if (!(instruction instanceof Instruction.AppendRecord a) || arrived.containsKey(a.records())) {
        continue;
      }
      if (a.records().end() > data.maxBufferedBytes()) {
        break; // it can arrive only once earlier instructions have run and released their data
      }
      byte[] bytes;
      try {
        bytes = data.awaitBytes(a.records(), dataTimeout);
      } catch (ProgramException e) {
        late.put(a.records(), e);
        break; // what follows comes later still
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt(); // stops the program where it waits next
        break;
      }
      List<RecordWithBody> records;
      try {
        records = AppendEncoding.parse(bytes);
      } catch (VerificationException e) {
        records = null; // refused in its turn
      }
      if (records != null && verifySignatures) {
        for (RecordWithBody record : records) {
          boolean unused = record.record().hasValidSignature();
        }
      }
      arrived.put(a.records(), new Ahead.Early(bytes, records));
    }
    return new Ahead(arrived, late);
  }

  private Map<DataRef, byte[]> awaitInputs(Instruction instruction, ProgramData data, Ahead ahead) throws Stop {
    Map<DataRef, byte[]> inputs = new HashMap<>();
    for (DataRef ref : instruction.refs()) {
      byte[] early = ahead.bytesOrNull(ref);
      if (early != null) {
        inputs.put(ref, early);
      } else if (!inputs.containsKey(ref)) {
        ProgramException lateAhead = ahead.late().get(ref);
        try {
          // Data already waited for in vain is not waited for again: its failure stands.
          inputs.put(ref, data.awaitBytes(ref, lateAhead == null ? dataTimeout : Duration.ZERO));
        } catch (ProgramException e) {
          ProgramException reported = lateAhead != null ? lateAhead : e;
          throw new Stop(Reason.DATA, reported.getMessage(), reported);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new Stop(Reason.INTERRUPTED, "interrupted waiting for program data", e);
        }
      }
    }
    return inputs;
  }

  /**
   * What an instruction is charged for, computed from its inputs and cheap lookups before it runs: its
   * input bytes, its output bound from {@link OutputBounds} plus the transport's envelope, and its
   * storage bytes.
   *
   * <ul>
   *   <li>{@code CreateCapsule}: a 32-byte id; storage adds the metadata's bytes.
   *   <li>{@code AppendRecord}: the heads after the append, at most the view's current heads plus the
   *       records the input declares (capped by what its length can hold); storage adds the input's
   *       bytes.
   *   <li>{@code ReadSubRecord}: 4 + the capsule's {@code maxSubRecordBytes} + a proof bound.
   *   <li>{@code Prove}: a proof bound.
   *   <li>Proof bound: when the target lies on the anchor's primary chain, the exact size of the path
   *       the generator will send ({@link OutputBounds#proof}); otherwise one header of the largest size
   *       per height between them ({@link OutputBounds#proofByHeights}). Plus, for a sub-record, an
   *       inclusion proof of at most ceil(log2 n) hashes for the record's n sub-records. 0 when anchor or
   *       target is unknown or ambiguous (the instruction then fails).
   *   <li>{@code HasRecord}, {@code ReadByHash}: exact, from a lookup of the header or record in
   *       storage ({@link OutputBounds#hasRecord}, {@link OutputBounds#readByHash}): the real output when
   *       the record is held, the 1-byte absent flag when it is not.
   *   <li>{@code Heads}: 4 + per current head its exact size.
   *   <li>{@code Metadata}: exact, 4 + the length of the capsule's signed metadata; 0 when the capsule is
   *       not held (the instruction then fails).
   * </ul>
   */
  InstructionDescriptor describe(Instruction instruction, Map<DataRef, byte[]> inputs, StagedView view) {
    return describe(instruction, inputs, view, lookUp(instruction, inputs));
  }

  private InstructionDescriptor describe(Instruction instruction, Map<DataRef, byte[]> inputs, StagedView view,
      Lookup found) {
    long in = instruction.inputBytes();
    if (instruction instanceof Instruction.CreateCapsule) {
      return charge(instruction, in, OutputBounds.CREATE_CAPSULE, in);
    }
    if (instruction instanceof Instruction.AppendRecord a) {
      long heads = view.metadataOrNull() == null ? 0 : view.heads().size();
      long count = AppendEncoding.declaredCountBound(input(inputs, a.records()));
      return charge(instruction, in, OutputBounds.append(heads, count), in);
    }
    if (instruction instanceof Instruction.ReadSubRecord r) {
      SignedMetadata md = view.metadataOrNull();
      long payload = md == null ? 0 : md.metadata().maxSubRecordBytes();
      byte[] anchorBytes = input(inputs, r.anchor());
      long proof = proofBound(view, anchorBytes, r.record(), inputs, true);
      Hash target = targetOrNull(r.record(), inputs, view);
      Hash anchor = Hash.copyOf(anchorBytes);
      Hash witness = target == null ? null : dropWitnessOrNull(view, anchor, target);
      if (witness != null) {
        return charge(instruction, in, OutputBounds.readDroppedSubRecord(proof, witnessProofBound(view, anchor, witness)),
            0);
      }
      return charge(instruction, in, OutputBounds.readSubRecord(payload, proof), 0);
    }
    if (instruction instanceof Instruction.Prove p) {
      return charge(instruction, in,
          proofBound(view, input(inputs, p.anchor()), p.target(), inputs, p.isSubRecord()), 0);
    }
    if (instruction instanceof Instruction.HasRecord) {
      return charge(instruction, in, OutputBounds.hasRecord(found.headerOrNull()), 0);
    }
    if (instruction instanceof Instruction.ReadByHash) {
      return charge(instruction, in, OutputBounds.readByHash(found.recordOrNull()), 0);
    }
    if (instruction instanceof Instruction.Metadata) {
      SignedMetadata md = view.metadataOrNull();
      return charge(instruction, in, md == null ? 0 : OutputBounds.metadata(md.encoded().length), 0);
    }
    long out = 4;
    if (view.metadataOrNull() != null) {
      for (Hash head : view.heads()) {
        out += OutputBounds.head(Objects.requireNonNull(view.headerOrNull(head), "a head is a held record"));
      }
    }
    return charge(instruction, in, out, 0);
  }

  /**
   * What a {@code HasRecord} or {@code ReadByHash} finds among the committed records, looked up once before
   * the charge: the bound it is charged for and the output it returns come from the same lookup, even if
   * a commit lands in between.
   */
  private record Lookup(@Nullable RecordHeader headerOrNull, @Nullable Record recordOrNull) {
    static final Lookup NONE = new Lookup(null, null);
  }

  private Lookup lookUp(Instruction instruction, Map<DataRef, byte[]> inputs) {
    if (instruction instanceof Instruction.HasRecord h) {
      return new Lookup(storage.headerByHashOrNull(Hash.copyOf(input(inputs, h.hash()))), null);
    }
    if (instruction instanceof Instruction.ReadByHash b) {
      return new Lookup(null, storage.recordByHashOrNull(Hash.copyOf(input(inputs, b.hash()))));
    }
    return Lookup.NONE;
  }

  /** The bytes each of the instruction's references points at, in the order its encoding lists them. */
  private static List<byte[]> refBytes(Instruction instruction, Map<DataRef, byte[]> inputs) {
    List<byte[]> out = new ArrayList<>(instruction.refs().size());
    for (DataRef ref : instruction.refs()) {
      out.add(input(inputs, ref));
    }
    return out;
  }

  /** The descriptor of {@code instruction}, its output bound widened by the transport's envelope. */
  private InstructionDescriptor charge(Instruction instruction, long inputBytes, long outputBound,
      long storageBytes) {
    return new InstructionDescriptor(instruction.kind(), inputBytes, outputBound + outputEnvelopeBytes,
        storageBytes);
  }

  private long proofBound(StagedView view, byte[] anchorBytes, RecordSelector target,
      Map<DataRef, byte[]> inputs, boolean subRecord) {
    Hash anchorHash = Hash.copyOf(anchorBytes);
    RecordHeader anchor = view.headerOrNull(anchorHash);
    RecordHeader targetHeader;
    if (target instanceof RecordSelector.ByHash byHash) {
      targetHeader = view.headerOrNull(Hash.copyOf(input(inputs, byHash.hash())));
    } else {
      List<Hash> at = view.recordsAtHeight(((RecordSelector.ByHeight) target).height());
      targetHeader = at.size() == 1 ? view.headerOrNull(at.get(0)) : null;
    }
    if (anchor == null || targetHeader == null || targetHeader.height() > anchor.height()) {
      return 0;
    }
    // On the anchor's primary chain the proof is the generator's greedy path: charge its exact size.
    RecordProof path = proofs(view).primaryChainProofOrNull(anchorHash, targetHeader.hash());
    if (path != null) {
      return OutputBounds.proof(path, subRecord);
    }
    return OutputBounds.proofByHeights(anchor.height(), targetHeader.height(), subRecord,
        OutputBounds.inclusion(targetHeader.subRecordCount()));
  }


  /**
   * What the records a program appends are paid with, kept beside them so that dropping their payloads
   * under a retention policy credits the unused storage back: only with a payer, whose account in the
   * store's ledger paid (a program without one is paid from outside the store's ledger).
   */
  private @Nullable Payer payer(Meter meter, @Nullable Reservation payerOrNull) {
    return payerOrNull == null ? null
        : new Payer(payerOrNull.account(), meter.durationUnits(), meter.storagePerByteDurationUnit().units());
  }

  private record Payer(PublicKey account, long durationUnits, long pricePerByteUnit) {
    StoragePayment paymentFor(RecordWithBody record, long nowMillis) {
      long bytes = 0;
      for (byte[] payload : record.payloads()) {
        bytes += payload.length;
      }
      return new StoragePayment(account, durationUnits, pricePerByteUnit, nowMillis, bytes);
    }
  }

  private Output execute(Instruction instruction, Map<DataRef, byte[]> inputs, StagedView view,
      @Nullable Batch batch, Lookup found, @Nullable Payer payer, Ahead ahead)
      throws Stop {
    if (instruction instanceof Instruction.CreateCapsule c) {
      return createCapsule(input(inputs, c.signedMetadata()), view, writable(batch));
    }
    if (instruction instanceof Instruction.AppendRecord a) {
      return append(input(inputs, a.records()), ahead.takeRecords(a.records()), view, writable(batch), payer);
    }
    if (instruction instanceof Instruction.ReadSubRecord r) {
      Hash anchor = Hash.copyOf(input(inputs, r.anchor()));
      Hash target = resolve(r.record(), inputs, view);
      LeafProof leaf = subRecordLeaf(view, target, r.index());
      byte[] payload = view.subRecordOrNull(target, r.index());
      try {
        if (payload == null) {
          return dropped(view, anchor, target, leaf);
        }
        return new Output.SubRecord(payload, proofs(view).subRecordProof(anchor, target, leaf));
      } catch (NoSuchElementException e) {
        throw new Stop(Reason.NOT_FOUND, "no proof from " + anchor + ": " + e.getMessage(), e);
      }
    }
    if (instruction instanceof Instruction.Prove p) {
      Hash anchor = Hash.copyOf(input(inputs, p.anchor()));
      Hash target = resolve(p.target(), inputs, view);
      try {
        ProofGenerator generator = proofs(view);
        if (p.isSubRecord()) {
          LeafProof leaf = subRecordLeaf(view, target, p.subRecordIndexOrNegative());
          return new Output.Proof(null, generator.subRecordProof(anchor, target, leaf));
        }
        return new Output.Proof(generator.recordProof(anchor, target), null);
      } catch (NoSuchElementException e) {
        throw new Stop(Reason.NOT_FOUND, "no proof from " + anchor + ": " + e.getMessage(), e);
      }
    }
    if (instruction instanceof Instruction.HasRecord) {
      RecordHeader header = found.headerOrNull();
      return new Output.Has(header != null, header);
    }
    if (instruction instanceof Instruction.ReadByHash) {
      Record record = found.recordOrNull();
      return new Output.ByHash(record, record == null ? 0 : record.header().subRecordCount());
    }
    if (instruction instanceof Instruction.Metadata) {
      return new Output.Metadata(requireCapsule(view));
    }
    requireCapsule(view);
    List<Record> heads = new ArrayList<>();
    for (Hash head : view.heads()) {
      heads.add(view.recordOrNull(head));
    }
    return new Output.Heads(heads);
  }

  /**
   * The answer to a read of a sub-record whose payload was dropped: its leaf hash and proof, and the
   * witness's proof from the same anchor ({@link #dropWitnessOrNull}).
   *
   * @throws Stop NOT_FOUND when the payload is not held and not dropped either, or dropped under a
   *     witness the anchor does not reach and the anchor does not let it go itself
   */
  private Output dropped(StagedView view, Hash anchor, Hash target, LeafProof leaf) throws Stop {
    long index = leaf.index();
    Hash stored = view.droppedWitnessOrNull(target);
    if (stored == null) {
      throw new Stop(Reason.NOT_FOUND, "record " + target + " has no sub-record " + index);
    }
    Hash witness = dropWitnessOrNull(view, anchor, target);
    if (witness == null) {
      throw new Stop(Reason.NOT_FOUND, "sub-record " + index + " of record " + target
          + " was dropped under the capsule's retention policy (witness " + stored + "), which anchor " + anchor
          + " does not reach: read it from a newer head");
    }
    ProofGenerator generator = proofs(view);
    return new Output.SubRecordDropped(leaf.leafHash(), generator.subRecordProof(anchor, target, leaf),
        generator.recordProof(anchor, witness));
  }

  /**
   * The witness a read of dropped record {@code target} from {@code anchor} carries, or null when the
   * record holds its payloads or no witness can be proven from the anchor: the anchor itself when the
   * policy before it lets the record go (its proof is one header), else the witness the record was
   * dropped under when the anchor reaches it.
   */
  private @Nullable Hash dropWitnessOrNull(StagedView view, Hash anchor, Hash target) {
    Hash stored = view.droppedWitnessOrNull(target);
    RecordHeader anchorHeader = view.headerOrNull(anchor);
    RecordHeader targetHeader = view.headerOrNull(target);
    SignedMetadata metadata = view.metadataOrNull();
    if (stored == null || anchorHeader == null || targetHeader == null || metadata == null) {
      return null;
    }
    CapsuleMembers capsule = members.of(metadata);
    MemberState beforeAnchor = capsule.memberStates(view, capsule.changelog(view, view::subRecordOrNull))
        .stateBeforeOrNull(anchor);
    if (beforeAnchor != null && beforeAnchor.retention().letsDrop(targetHeader.height(), targetHeader.timestampMillis(),
        anchorHeader.height(), anchorHeader.timestampMillis())) {
      return anchor;
    }
    try {
      proofs(view).recordProof(anchor, stored);
      return stored;
    } catch (NoSuchElementException e) {
      return null;
    }
  }

  /** The size of the witness's proof from the anchor: exact on the anchor's primary chain, else by heights. */
  private long witnessProofBound(StagedView view, Hash anchor, Hash witness) {
    RecordProof path = proofs(view).primaryChainProofOrNull(anchor, witness);
    if (path != null) {
      return OutputBounds.proof(path, false);
    }
    RecordHeader top = Objects.requireNonNull(view.headerOrNull(anchor), "a witness's anchor is held");
    RecordHeader low = Objects.requireNonNull(view.headerOrNull(witness), "a witness is held");
    return OutputBounds.proofByHeights(top.height(), low.height(), false, 0);
  }

  /** The record {@code selector} names in the view, or null when it names none or several. */
  private static @Nullable Hash targetOrNull(RecordSelector selector, Map<DataRef, byte[]> inputs, StagedView view) {
    if (selector instanceof RecordSelector.ByHash byHash) {
      Hash hash = Hash.copyOf(input(inputs, byHash.hash()));
      return view.headerOrNull(hash) == null ? null : hash;
    }
    List<Hash> at = view.recordsAtHeight(((RecordSelector.ByHeight) selector).height());
    return at.size() == 1 ? at.get(0) : null;
  }

  /**
   * A proof generator over the view; its proofs of a version-2 record carry the writer's entry in the
   * state before the record.
   */
  private ProofGenerator proofs(StagedView view) {
    SignedMetadata metadata = view.metadataOrNull();
    if (metadata == null) {
      return new ProofGenerator(view);
    }
    CapsuleMembers capsule = members.of(metadata);
    return new ProofGenerator(view, capsule.memberStates(view, capsule.changelog(view, view::subRecordOrNull)));
  }

  private Output createCapsule(byte[] input, StagedView view, Batch batch) throws Stop {
    SignedMetadata metadata;
    try {
      metadata = SignedMetadata.parse(input);
    } catch (VerificationException e) {
      throw new Stop(Reason.INVALID_INPUT, "bad signed metadata: " + e.getMessage(), e);
    }
    Hash id = metadata.capsuleId();
    if (storage.hasCapsule(id) || view.creates(id)) {
      throw new Stop(Reason.STORAGE, "capsule " + id + " already exists");
    }
    try {
      batch.createCapsule(metadata);
    } catch (StorageException e) {
      throw new Stop(Reason.STORAGE, e.getMessage(), e);
    }
    view.stageCapsule(metadata);
    return new Output.CapsuleCreated(id);
  }

  private Output append(byte[] input, @Nullable List<RecordWithBody> parsedOrNull, StagedView view, Batch batch,
      @Nullable Payer payer) throws Stop {
    SignedMetadata metadata = requireCapsule(view);
    CapsuleMembers capsule = members.of(metadata);
    List<RecordWithBody> records;
    try {
      records = parsedOrNull != null ? parsedOrNull : AppendEncoding.parse(input);
      Changelog changelog = capsule.changelog(view, view::subRecordOrNull);
      capsule.validator(verifySignatures).validateAppend(records, view, changelog);
      if (capsule.membershipOrNull() != null) { // a version-1 capsule has no members to list
        capsule.checkLive(records, view.membershipRecords(), changelog);
      }
    } catch (VerificationException e) {
      throw new Stop(refusalReason(capsule, e.failure()), e.getMessage(), e);
    }
    try {
      long now = clock.millis();
      for (RecordWithBody record : records) {
        // Only data records can be dropped, so only theirs is a payment worth keeping.
        boolean droppable = record.record().header().kind() == RecordKind.DATA && !record.payloads().isEmpty();
        batch.putRecord(record, payer != null && droppable ? payer.paymentFor(record, now) : null);
      }
    } catch (StorageException e) {
      throw new Stop(Reason.STORAGE, e.getMessage(), e);
    }
    view.stageRecords(records);
    return new Output.Appended(view.heads());
  }

  /**
   * The reason an append refused by validation stops with: a writer refused by the members is {@link
   * Reason#WRITER_NOT_ALLOWED} (a version-1 capsule's fixed writers refuse a stranger as invalid input, as
   * they always did); a private capsule's record under an epoch that is not the current one at it, or not
   * usable among the current members, is {@link Reason#STALE_EPOCH}; anything else is invalid input.
   */
  private static Reason refusalReason(CapsuleMembers capsule, Failure failure) {
    if (capsule.membershipOrNull() == null) {
      return Reason.INVALID_INPUT;
    }
    return switch (failure) {
      case WRITER_NOT_ALLOWED -> Reason.WRITER_NOT_ALLOWED;
      case BAD_EPOCH -> Reason.STALE_EPOCH;
      default -> Reason.INVALID_INPUT;
    };
  }

  private static SignedMetadata requireCapsule(StagedView view) throws Stop {
    SignedMetadata metadata = view.metadataOrNull();
    if (metadata == null) {
      throw new Stop(Reason.NOT_FOUND, "capsule " + view.capsuleIdOrNull() + " is not held");
    }
    return metadata;
  }

  private static Hash resolve(RecordSelector selector, Map<DataRef, byte[]> inputs, StagedView view) throws Stop {
    requireCapsule(view);
    if (selector instanceof RecordSelector.ByHash byHash) {
      Hash hash = Hash.copyOf(input(inputs, byHash.hash()));
      if (view.headerOrNull(hash) == null) {
        throw new Stop(Reason.NOT_FOUND, "no record " + hash);
      }
      return hash;
    }
    long height = ((RecordSelector.ByHeight) selector).height();
    List<Hash> at = view.recordsAtHeight(height);
    if (at.isEmpty()) {
      throw new Stop(Reason.NOT_FOUND, "no record at height " + height);
    }
    if (at.size() > 1) {
      throw new Stop(Reason.AMBIGUOUS, at.size() + " records at height " + height + "; name one by hash");
    }
    return at.get(0);
  }

  /** The bytes of {@code ref}; {@link #awaitInputs} fetched every reference of the instruction. */
  private static byte[] input(Map<DataRef, byte[]> inputs, DataRef ref) {
    byte[] bytes = inputs.get(ref);
    if (bytes == null) {
      throw new IllegalStateException("input " + ref + " was not awaited");
    }
    return bytes;
  }

  /** The batch of a read-write program, the only kind with write instructions. */
  private static Batch writable(@Nullable Batch batch) {
    if (batch == null) {
      throw new IllegalStateException("a write instruction in a read-only program");
    }
    return batch;
  }

  /** Sub-record {@code index}'s leaf in the record's tree (kept by storage since the append). */
  private static LeafProof subRecordLeaf(StagedView view, Hash target, long index) throws Stop {
    LeafProof leaf = view.subRecordLeafOrNull(target, index);
    if (leaf == null) {
      throw new Stop(Reason.NOT_FOUND, "record " + target + " has no sub-record " + index);
    }
    return leaf;
  }
}
