package dev.capsulevm.cli;

import dev.capsulevm.program.Output;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.Record;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import dev.capsulevm.proofs.capsule.SigningPolicy;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proofs.members.Keystore;
import dev.capsulevm.proofs.integrity.RecordProof;
import dev.capsulevm.proofs.integrity.SubRecordProof;
import dev.capsulevm.renter.AppendConflictException;
import dev.capsulevm.renter.CapsuleMembers;
import dev.capsulevm.renter.CapsuleReader;
import dev.capsulevm.renter.CapsuleWriter;
import dev.capsulevm.renter.DecryptionFailedException;
import dev.capsulevm.renter.MissingEpochKeyException;
import dev.capsulevm.renter.NoUsableEpochException;
import dev.capsulevm.renter.HeadTracker;
import dev.capsulevm.renter.HostClient;
import dev.capsulevm.renter.HostMisbehaviourException;
import dev.capsulevm.renter.NotAllowedException;
import dev.capsulevm.renter.ProgramBuilder;
import dev.capsulevm.renter.ProgramResult;
import dev.capsulevm.renter.RangeReader;
import dev.capsulevm.renter.RenterException;
import dev.capsulevm.renter.RollbackException;
import dev.capsulevm.renter.VerifiedOutput;
import dev.capsulevm.renter.WriteCommittedException;
import dev.capsulevm.renter.access.AccessException;
import dev.capsulevm.renter.access.MemberCard;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.Callable;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code capsulevm capsule}: create, append, merge, read, prove, heads, has, every answer verified. */
@Command(
    name = "capsule",
    mixinStandardHelpOptions = true,
    description = "Create capsules and append, read and prove records on a host; every answer is verified.",
    subcommands = {
      CapsuleCommand.Create.class,
      CapsuleInfoCommand.ListCapsules.class,
      CapsuleInfoCommand.Info.class,
      CapsuleDataCommand.Append.class,
      CapsuleCommand.Merge.class,
      CapsuleDataCommand.Read.class,
      CapsuleFollowCommand.class,
      CapsuleCommand.Prove.class,
      CapsuleCommand.Heads.class,
      CapsuleCommand.Has.class,
      CapsuleAccessCommand.Share.class,
      CapsuleAccessCommand.Open.class,
      CapsuleRetentionCommand.class
    })
final class CapsuleCommand {
  /** Exit code when the host's answer did not verify (nothing was confirmed). */
  static final int EXIT_MISBEHAVIOUR = 3;
  /** Exit code when a write is committed but the host's end or receipt of it did not verify. */
  static final int EXIT_COMMITTED_MISBEHAVIOUR = 5;
  /** Exit code when other writers kept appending first, through every retry. */
  static final int EXIT_APPEND_CONFLICT = 6;
  /** Exit code when the host rolled a capsule back (its evidence is written). */
  static final int EXIT_ROLLBACK = 7;
  /** Exit code when an access string or member card was refused (malformed, damaged, not for this renter or capsule). */
  static final int EXIT_ACCESS_REFUSED = 8;
  /** Exit code when the key may not make the write (not a member, removed, or without the right). */
  static final int EXIT_NOT_ALLOWED = 9;
  /**
   * Exit code when this renter holds no key for a private capsule's epoch: a read of a record written before
   * it was given read or after its read was taken away, a read whose key does not open it, or a write when
   * no epoch is usable and this renter cannot rekey.
   */
  static final int EXIT_NO_KEY = 10;
  /**
   * {@code capsule read}: the host answered, verifiably, that the sub-record's payload was dropped under
   * the capsule's retention policy (a failed read, like any other: exit 1).
   */
  static final int EXIT_DROPPED = 1;
  /** The largest limit a capsule's metadata holds (an unsigned 32-bit field). */
  private static final long MAX_U32 = 0xFFFF_FFFFL;

  interface Body {
    int run() throws RenterException, IOException, AccessException;
  }

  /**
   * Runs {@code body}, mapping failures to one message and an exit code each: 1 a failure (the host's
   * honest refusal, a transport error, a local problem), 3 host misbehaviour, 5 a committed write whose
   * end did not verify, 6 an append conflict that outlasted the retries, 7 a rollback with evidence, 8 an
   * access string or member card refused, 9 a write the key may not make (nothing was committed), 10 no
   * key for a private capsule's epoch (or one that does not open it).
   */
  static int guarded(Body body) {
    try {
      return body.run();
    } catch (RollbackException e) {
      return Failures.report(EXIT_ROLLBACK, "rollback", "HOST MISBEHAVIOUR (rollback): ", e, e.fileOrNull());
    } catch (WriteCommittedException e) {
      return Failures.report(EXIT_COMMITTED_MISBEHAVIOUR, "committed-misbehaviour",
          "COMMITTED, BUT HOST MISBEHAVIOUR: ", e, null);
    } catch (AppendConflictException e) {
      return Failures.report(EXIT_APPEND_CONFLICT, "append-conflict", "capsulevm: ", e, null);
    } catch (NotAllowedException e) {
      return Failures.report(EXIT_NOT_ALLOWED, "not-allowed", "capsulevm: not allowed: ", e, null);
    } catch (HostMisbehaviourException e) {
      return Failures.report(EXIT_MISBEHAVIOUR, "host-misbehaviour", "HOST MISBEHAVIOUR: ", e, null);
    } catch (MissingEpochKeyException | NoUsableEpochException e) {
      return Failures.report(EXIT_NO_KEY, "no-key", "capsulevm: no key: ", e, null);
    } catch (DecryptionFailedException e) {
      return Failures.report(EXIT_NO_KEY, "undecryptable", "capsulevm: does not decrypt: ", e, null);
    } catch (RenterException | IOException e) {
      return Failures.report(Failures.EXIT_FAILED, "failed", "capsulevm: ", e, null);
    } catch (AccessException e) {
      return Failures.report(EXIT_ACCESS_REFUSED, "access-refused", "capsulevm: ", e, null);
    }
  }

  @Command(name = "create", mixinStandardHelpOptions = true,
      description = "Create a capsule (format version 2: members can be added and removed, see 'member'): new"
          + " creator and writer keys are kept in the local state. With --private (format version 3) its"
          + " sub-records are encrypted here, before they leave, for the members with read.")
  static final class Create implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin RenterArgs args;

    @Option(names = "--policy", defaultValue = "EVERY_RECORD",
        description = "EVERY_RECORD or HEARTBEAT (default: ${DEFAULT-VALUE}).")
    SigningPolicy policy;

    @Option(names = "--max-sub-records", defaultValue = "65536", description = "Most sub-records per record (default: ${DEFAULT-VALUE}).")
    long maxSubRecords;

    @Option(names = "--max-sub-record-bytes", defaultValue = "4096", description = "Largest sub-record (default: ${DEFAULT-VALUE}).")
    long maxSubRecordBytes;

    @Option(names = "--description", defaultValue = "", description = "The capsule's description.")
    String description;

    @Option(names = "--private",
        description = "A private capsule (format version 3): sub-records are encrypted before they leave this renter;"
            + " only members with read (this state, and each --member with read) can decrypt them. The stored"
            + " form of a sub-record is 16 bytes longer, within --max-sub-record-bytes.")
    boolean isPrivate;

    @Option(names = "--member", paramLabel = "CARD:PERMS",
        description = "A genesis member of a private capsule: its member card (cvm-member1:..., from its 'key card'),"
            + " a colon, and its permissions (read, add, admin; comma separated). Repeatable.")
    List<String> members = new ArrayList<>();

    @Option(names = {"-q", "--quiet"}, description = "Print the new capsule's id alone (for scripts: id=$(capsulevm capsule create -q)).")
    boolean quiet;

    @Override
    public Integer call() {
      if (quiet && args.json) {
        throw Args.usage(spec, "-q prints the id alone and --json one JSON object: choose one");
      }
      Args.inRange(spec, "--max-sub-records", maxSubRecords, 1, MAX_U32);
      Args.inRange(spec, "--max-sub-record-bytes", maxSubRecordBytes, 0, MAX_U32);
      if (!members.isEmpty() && !isPrivate) {
        throw Args.usage(spec, "--member names genesis members of a private capsule: add --private (or add members"
            + " later with 'member add')");
      }
      return guarded(() -> {
        Map<MemberCard, Integer> cards = new LinkedHashMap<>();
        for (String member : members) {
          int colon = member.lastIndexOf(':');
          if (colon <= MemberCard.PREFIX.length() - 1) {
            throw Args.usage(spec, "--member takes CARD:PERMS, e.g. cvm-member1:...:read,add");
          }
          int bits = MemberCommand.bits(spec, member.substring(colon + 1));
          if (bits == 0) {
            throw Args.usage(spec, "--member " + member.substring(colon + 1) + ": name at least one permission");
          }
          cards.put(MemberCard.parse(member.substring(0, colon)), bits);
        }
        RenterState state = args.state();
        SigningKey creator = SigningKey.generate();
        SigningKey writerKey = SigningKey.generate();
        try (HostClient client = args.connect()) {
          CapsuleWriter writer;
          if (isPrivate) {
            try {
              writer = CapsuleWriter.createPrivate(client, creator, writerKey, state.encryptionKey(), cards, policy,
                  maxSubRecords, maxSubRecordBytes, description);
            } catch (IllegalArgumentException e) {
              throw Args.usage(spec, "--member: " + e.getMessage());
            }
          } else {
            writer = CapsuleWriter.create(client, creator, writerKey, policy, maxSubRecords, maxSubRecordBytes,
                description);
          }
          state.saveNew(writer, creator);
          state.saveHosts(writer.capsuleId(), List.of(args.hostOrDefault()));
          ProgramResult result = RenterArgs.lastResult(writer);
          Keystore genesis = writer.metadata().genesisKeystoreOrNull();
          if (quiet) {
            System.out.println(writer.capsuleId().toHex());
          } else if (args.json) {
            System.out.println(new Json().put("capsule", writer.capsuleId().toHex())
                .put("writer", writerKey.publicKey().toHex()).put("policy", policy.name())
                .put("private", isPrivate).put("epoch", genesis == null ? null : genesis.epochKey().toHex())
                .put("readers", genesis == null ? null : genesis.entries().size())
                .put("cost", RenterArgs.cost(result)));
          } else {
            System.out.println("capsule " + writer.capsuleId().toHex() + (isPrivate ? " (private)" : ""));
            System.out.println("writer  " + writerKey.publicKey().toHex() + " (key in " + state.capsuleDir(writer.capsuleId()) + ")");
            if (genesis != null) {
              System.out.println("epoch   " + genesis.epochKey().toHex() + ", its key wrapped for "
                  + genesis.entries().size() + " reader(s); sub-records are encrypted here, with this state's"
                  + " encryption.key reading them");
            }
            System.out.println(RenterArgs.costLine(result));
          }
          return 0;
        }
      });
    }
  }

  /**
   * The writer this state appends to capsule {@code id} as: with the capsule's writer key when it holds one
   * (a capsule made here), else with its own identity (the account key), as a member of a version-2
   * capsule appends.
   */
  static CapsuleWriter writerFor(RenterState state, HostClient client, Hash id, RenterArgs args)
      throws IOException, RenterException {
    return state.writes(id) ? state.load(id) : state.writer(client, id, state.appendKey(id, args.accountKey));
  }

  /** What a new record holds: the capsule, and its sub-records as arguments or lines of a file. */
  static final class NewRecordArgs {
    @Option(names = "--capsule", required = true, paramLabel = "ID", description = "The capsule id (hex).")
    String capsule;

    @Option(names = "--lines", paramLabel = "FILE", description = "One sub-record per line of FILE.")
    @Nullable Path lines;

    @Parameters(paramLabel = "SUB-RECORD", arity = "0..*", description = "Sub-record payloads (UTF-8).")
    List<String> payloads = new ArrayList<>();

    /** The sub-records given as arguments, then one per line of {@code --lines}. */
    List<byte[]> subRecords() throws IOException {
      List<byte[]> out = new ArrayList<>();
      payloads.forEach(p -> out.add(p.getBytes(StandardCharsets.UTF_8)));
      if (lines != null) {
        for (String line : Files.readAllLines(lines)) {
          out.add(line.getBytes(StandardCharsets.UTF_8));
        }
      }
      return out;
    }
  }

  @Command(name = "merge", mixinStandardHelpOptions = true,
      description = "Join a fork: fetch the heads (verified) and append one record whose parents are all of them, "
          + "holding the given sub-records (none is fine). With one head it is an ordinary append.")
  static final class Merge implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin RenterArgs args;

    @Mixin NewRecordArgs record;

    @Override
    public Integer call() {
      Hash id = Args.hash(spec, "--capsule", record.capsule);
      return guarded(() -> {
        List<byte[]> subRecords = record.subRecords();
        RenterState state = args.state();
        try (HostClient client = args.connect(id)) {
          CapsuleWriter writer = writerFor(state, client, id, args);
          RecordWithBody merge = writer.merge(client, subRecords);
          state.save(writer);
          RecordHeader header = merge.record().header();
          ProgramResult result = RenterArgs.lastResult(writer);
          if (args.json) {
            System.out.println(new Json().put("record", header.hash().toHex()).put("height", header.height())
                .put("parents", hexes(header.parents())).put("subRecords", header.subRecordCount())
                .put("heads", hexes(result.committedHeads())).put("cost", RenterArgs.cost(result)));
          } else {
            int n = header.parents().size();
            System.out.println("record  " + header.hash().toHex() + " at height " + header.height() + ", "
                + header.subRecordCount() + " sub-record(s), committed, "
                + (n == 1 ? "no fork: an ordinary append" : "merging " + n + " heads"));
            System.out.println("parents " + String.join(", ", hexes(header.parents())));
            System.out.println("heads   " + String.join(", ", hexes(result.committedHeads())));
            System.out.println(RenterArgs.costLine(result));
          }
          return 0;
        }
      });
    }
  }

  /** Which record: by hash or by height. */
  static final class Target {
    @Option(names = "--record", paramLabel = "HASH", description = "The record's hash (hex).")
    @Nullable String record;

    @Option(names = "--height", paramLabel = "N", description = "The record's height.")
    @Nullable Long height;

    /** The height, given exactly when the record is not (picocli enforces the group). */
    long height() {
      return Objects.requireNonNull(height, "--height");
    }
  }

  /**
   * The capsule as this state sees it, ready to read: as its writer when the state holds the writer key,
   * otherwise as a reader that may start from the id alone (the metadata is fetched and checked against
   * it). The anchor is the highest head the state knows, refreshed from the host when it knows none, and
   * trusted by the client's verifier: reads are proven from it.
   */
  static final class View {
    private final RenterState state;
    private final HostClient client;
    private final @Nullable CapsuleWriter writerOrNull;
    private final @Nullable CapsuleReader readerOrNull;
    private final RangeReader.Source source;
    private @Nullable RecordHeader anchor;

    private View(RenterState state, HostClient client, @Nullable CapsuleWriter writer, @Nullable CapsuleReader reader) {
      this.state = state;
      this.client = client;
      this.writerOrNull = writer;
      this.readerOrNull = reader;
      this.source = writer != null ? RangeReader.source(writer, client)
          : RangeReader.source(Objects.requireNonNull(reader, "a writer or a reader"));
    }

    /** The view, with an anchor: the highest head known, or just fetched (a capsule with no records fails). */
    static View of(RenterState state, HostClient client, Hash id) throws RenterException, IOException {
      View view = open(state, client, id);
      if (view.highestKnownOrNull() == null) {
        view.refresh();
      } else {
        view.save();
        view.anchorAt(view.highestKnownOrNull());
      }
      if (view.anchor == null) {
        throw new RenterException("the capsule has no records yet");
      }
      return view;
    }

    /** The view without fetching anything but, for a capsule this state has never seen, its metadata. */
    static View open(RenterState state, HostClient client, Hash id) throws RenterException, IOException {
      return state.writes(id) ? new View(state, client, state.load(id), null)
          : new View(state, client, null, state.reader(client, id));
    }

    private @Nullable RecordHeader highestKnownOrNull() {
      return writerOrNull != null ? writerOrNull.highestHead() : Objects.requireNonNull(readerOrNull).highestHead();
    }

    private void anchorAt(@Nullable RecordHeader head) {
      anchor = head;
      if (head != null) {
        client.verifier().trust(head);
      }
    }

    /**
     * Fetches the heads (verified: each signed by a member with the right, every head known before among
     * them or proven below one, else {@link RollbackException}), saves them, and anchors at the highest.
     *
     * @return the highest head, or null when the capsule has no records yet
     */
    @Nullable RecordHeader refresh() throws RenterException, IOException {
      if (writerOrNull != null) {
        writerOrNull.refreshHeads(client);
      } else {
        Objects.requireNonNull(readerOrNull).refreshHeads();
      }
      save();
      anchorAt(highestKnownOrNull());
      return anchor;
    }

    /**
     * The members as of the newest heads, fetched now ({@link #refresh} and the membership records below
     * the heads, verified); null for a version-1 capsule, whose heads are refreshed all the same.
     */
    @Nullable CapsuleMembers refreshMembers() throws RenterException, IOException {
      if (!metadata().metadata().hasMembers()) {
        refresh();
        return null;
      }
      CapsuleMembers members = writerOrNull != null ? writerOrNull.members(client)
          : Objects.requireNonNull(readerOrNull).members();
      save();
      anchorAt(highestKnownOrNull());
      return members;
    }

    /** The heads as last verified, sorted by hash. */
    List<Record> heads() {
      if (writerOrNull != null) {
        return writerOrNull.heads();
      }
      List<Record> out = new ArrayList<>();
      Objects.requireNonNull(readerOrNull).trackedHeads().forEach(v -> out.add(v.head()));
      return out;
    }

    /** The result of the last {@code Heads} program {@link #refresh} ran, or null. */
    @Nullable ProgramResult lastHeadsResult() {
      return writerOrNull != null ? writerOrNull.lastResult() : Objects.requireNonNull(readerOrNull).lastResult();
    }

    RecordHeader anchor() {
      return Objects.requireNonNull(anchor, "View.of anchors the view");
    }

    SignedMetadata metadata() {
      return writerOrNull != null ? writerOrNull.metadata() : Objects.requireNonNull(readerOrNull).metadata();
    }

    ProgramBuilder builder() {
      return source.newProgram();
    }

    RangeReader.Source source() {
      return source;
    }

    /** A reader of runs of sub-records whose programs return at most {@code windowBytes} of payload each. */
    RangeReader rangeReader(long windowBytes) {
      return new RangeReader(client, source, metadata(), windowBytes);
    }

    /** A verified read's plaintext: decrypted in a private capsule (and the state saved), else the payload. */
    byte[] plaintext(VerifiedOutput read) throws RenterException, IOException {
      byte[] plaintext = source.plaintext(read);
      if (metadata().isPrivate()) {
        save();
      }
      return plaintext;
    }

    /** Saves what the view learnt (heads, headers, membership records). */
    void save() throws IOException {
      if (writerOrNull != null) {
        state.save(writerOrNull);
      } else {
        state.save(Objects.requireNonNull(readerOrNull));
      }
    }
  }

  @Command(name = "prove", mixinStandardHelpOptions = true,
      description = "Prove that a record (or one of its sub-records) descends from the newest known head.")
  static final class Prove implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin RenterArgs args;

    @Option(names = "--capsule", required = true, paramLabel = "ID", description = "The capsule id (hex).")
    String capsule;

    @ArgGroup(exclusive = true, multiplicity = "1")
    Target target;

    @Option(names = "--index", description = "Prove this sub-record instead of the record (needs --record).")
    @Nullable Long index;

    @Override
    public Integer call() {
      Hash id = Args.hash(spec, "--capsule", capsule);
      Hash record = target.record == null ? null : Args.hash(spec, "--record", target.record);
      if (index != null && record == null) {
        throw Args.usage(spec, "--index needs --record");
      }
      return guarded(() -> {
        try (HostClient client = args.connect(id)) {
          View view = View.of(args.state(), client, id);
          RecordHeader anchor = view.anchor();
          ProgramBuilder builder = view.builder();
          if (record == null) {
            builder.proveAtHeight(target.height(), anchor);
          } else if (index == null) {
            builder.prove(record, anchor);
          } else {
            builder.proveSubRecord(record, Args.nonNegative(spec, "--index", index), anchor);
          }
          ProgramResult result = client.run(builder.build());
          VerifiedOutput out = result.output(0);
          RecordHeader proven = Objects.requireNonNull(out.provenHeaderOrNull(), "a verified proof proves its record");
          Output.Proof proof = (Output.Proof) out.output();
          SubRecordProof sub = proof.subRecordProofOrNull();
          RecordProof path = sub != null ? sub.recordProof() : Objects.requireNonNull(proof.recordProofOrNull());
          // Without the payload an inclusion path's hashes cannot be checked (its index, tree size and
          // length can): say so rather than call it verified.
          String inclusion = sub == null ? "" : ", and an inclusion path of " + sub.inclusion().path().size()
              + " hashes for sub-record " + index + " whose hashes cannot be checked without the payload"
              + " (capsule read checks them)";
          if (args.json) {
            System.out.println(new Json().put("record", proven.hash().toHex())
                .put("height", proven.height()).put("anchor", anchor.hash().toHex())
                .put("headers", path.headers().size())
                .put("recordProofVerified", true)
                .put("inclusionPathHashes", sub == null ? 0 : sub.inclusion().path().size())
                .put("inclusionPathVerified", sub == null ? null : false)
                .put("cost", RenterArgs.cost(result)));
          } else {
            System.out.println("proven  record " + proven.hash().toHex() + " (height "
                + proven.height() + ") descends from head " + anchor.hash().toHex());
            System.out.println("proof   " + path.headers().size() + " header(s), verified" + inclusion);
            System.out.println(RenterArgs.costLine(result));
          }
          return 0;
        }
      });
    }
  }

  @Command(name = "heads", mixinStandardHelpOptions = true,
      description = "Fetch the capsule's heads (each checked to be signed by a writer) and remember them.")
  static final class Heads implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin RenterArgs args;

    @Option(names = "--capsule", required = true, paramLabel = "ID", description = "The capsule id (hex).")
    String capsule;

    @Override
    public Integer call() {
      Hash id = Args.hash(spec, "--capsule", capsule);
      return guarded(() -> {
        RenterState state = args.state();
        try (HostClient client = args.connect(id)) {
          List<Record> heads;
          ProgramResult result;
          if (state.writes(id)) {
            CapsuleWriter writer = state.load(id);
            heads = writer.refreshHeads(client);
            state.save(writer);
            result = RenterArgs.lastResult(writer);
          } else {
            CapsuleReader reader = state.reader(client, id);
            HeadTracker.Update update = reader.refreshHeads();
            state.save(reader);
            heads = update.heads();
            result = Objects.requireNonNull(reader.lastResult(), "the reader ran its Heads program");
          }
          if (args.json) {
            List<Object> list = new ArrayList<>();
            for (Record head : heads) {
              list.add(new Json().put("hash", head.hash().toHex()).put("height", head.header().height())
                  .put("writer", head.header().writer().toHex()));
            }
            System.out.println(new Json().put("heads", list).put("forked", heads.size() > 1)
                .put("cost", RenterArgs.cost(result)));
          } else {
            for (Record head : heads) {
              System.out.println("head    " + head.hash().toHex() + " height " + head.header().height()
                  + ", signed by " + head.header().writer().toHex());
            }
            if (heads.isEmpty()) {
              System.out.println("no records yet");
            }
            if (heads.size() > 1) {
              System.out.println("fork    " + heads.size() + " heads on separate branches; a writer joins them with"
                  + " capsule merge");
            }
            System.out.println(RenterArgs.costLine(result));
          }
          return 0;
        }
      });
    }
  }

  @Command(name = "has", mixinStandardHelpOptions = true,
      description = "Ask whether the host holds a record (in any capsule); a yes comes with its header.")
  static final class Has implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin RenterArgs args;

    @Option(names = "--record", required = true, paramLabel = "HASH", description = "The record's hash (hex).")
    String record;

    @Override
    public Integer call() {
      Hash hash = Args.hash(spec, "--record", record);
      return guarded(() -> {
        try (HostClient client = args.connect()) {
          ProgramBuilder builder = ProgramBuilder.withoutCapsule();
          builder.has(hash);
          ProgramResult result = client.run(builder.build());
          RecordHeader header = ((Output.Has) result.output(0).output()).headerOrNull();
          if (args.json) {
            System.out.println(new Json().put("record", hash.toHex()).put("held", header != null)
                .put("height", header != null ? header.height() : null)
                .put("capsule", header != null ? header.capsuleId().toHex() : null)
                .put("cost", RenterArgs.cost(result)));
          } else {
            System.out.println(header != null
                ? "held    record " + hash.toHex() + " (height " + header.height() + " of capsule "
                    + header.capsuleId().toHex() + "), header verified"
                : "absent  the host says it does not hold " + hash.toHex());
            System.out.println(RenterArgs.costLine(result));
          }
          return 0;
        }
      });
    }
  }

  static List<String> hexes(List<Hash> hashes) {
    List<String> out = new ArrayList<>();
    hashes.forEach(h -> out.add(h.toHex()));
    return out;
  }
}
