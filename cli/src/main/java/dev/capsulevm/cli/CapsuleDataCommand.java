package dev.capsulevm.cli;

import static dev.capsulevm.cli.CapsuleCommand.guarded;
import static dev.capsulevm.cli.CapsuleCommand.hexes;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.renter.CapsuleWriter;
import dev.capsulevm.renter.ChunkedAppender;
import dev.capsulevm.renter.DroppedSubRecord;
import dev.capsulevm.renter.HostClient;
import dev.capsulevm.renter.ProgramBuilder;
import dev.capsulevm.renter.ProgramFailedException;
import dev.capsulevm.renter.ProgramResult;
import dev.capsulevm.renter.RangeReader;
import dev.capsulevm.renter.RenterException;
import dev.capsulevm.renter.SubRecordDroppedException;
import dev.capsulevm.renter.SubRecordPosition;
import dev.capsulevm.renter.VerifiedOutput;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.Callable;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code capsule append} and {@code capsule read}: data in and out. Sub-records given as arguments or lines
 * make one record; a file or standard input is streamed into records of fixed-size sub-records
 * ({@link ChunkedAppender}); reads take one sub-record, a whole record or a range of positions, streamed
 * through {@link RangeReader} so that every byte written was verified first and memory stays bounded.
 */
final class CapsuleDataCommand {
  private CapsuleDataCommand() {}

  /** How payloads are printed: {@code --raw}, {@code --text} or {@code --hex}; by default as the output suits. */
  static final class FormArgs {
    @Option(names = "--raw", description = "Write the payloads' bytes as they are, one after the other (the default"
        + " when standard output is not a terminal, and for --out).")
    boolean raw;

    @Option(names = "--text", description = "Print each payload as UTF-8 text on a line of its own (the default on a"
        + " terminal; invalid bytes are replaced).")
    boolean text;

    @Option(names = "--hex", description = "Print each payload in hex, one a line.")
    boolean hex;

    /** The form asked for, else raw for a file or a pipe and text on a terminal. */
    PayloadSink.Form form(CommandSpec spec, boolean toFile) {
      if ((raw ? 1 : 0) + (text ? 1 : 0) + (hex ? 1 : 0) > 1) {
        throw Args.usage(spec, "--raw, --text and --hex choose one form: give one of them");
      }
      if (raw) {
        return PayloadSink.Form.RAW;
      }
      if (text) {
        return PayloadSink.Form.TEXT;
      }
      if (hex) {
        return PayloadSink.Form.HEX;
      }
      return toFile || !Terminals.stdoutIsTerminal() ? PayloadSink.Form.RAW : PayloadSink.Form.TEXT;
    }
  }

  /** A size in bytes: a number, optionally with k/K/KiB or m/M/MiB (binary units). */
  static final class SizeConverter implements CommandLine.ITypeConverter<Long> {
    @Override
    public Long convert(String text) {
      String t = text.strip().toLowerCase(Locale.ROOT);
      long unit = 1;
      for (String[] suffix : new String[][] {{"kib", "1024"}, {"mib", "1048576"}, {"k", "1024"}, {"m", "1048576"}}) {
        if (t.endsWith(suffix[0])) {
          unit = Long.parseLong(suffix[1]);
          t = t.substring(0, t.length() - suffix[0].length()).strip();
          break;
        }
      }
      try {
        long value = Math.multiplyExact(Long.parseLong(t), unit);
        if (value < 1) {
          throw new CommandLine.TypeConversionException("'" + text + "' is not a positive size");
        }
        return value;
      } catch (NumberFormatException | ArithmeticException e) {
        throw new CommandLine.TypeConversionException("'" + text + "' is not a size in bytes (e.g. 4096, 64k, 4m)");
      }
    }
  }

  @Command(name = "append", mixinStandardHelpOptions = true,
      description = {"Append data, signed by the capsule's writer key in this state, or else by this renter's own key"
          + " (the account key) as a member; the new heads are checked before the commit is confirmed.",
          "Arguments (or the lines of --lines FILE) make one record, one sub-record each. A file (--file) or"
              + " standard input (--stdin, or - as the only argument) is read as bytes and cut into sub-records of"
              + " --chunk-size bytes, --sub-records-per-record of them per record, one record per program, never"
              + " holding more than a record; what was written is reported with the positions that read it back."})
  static final class Append implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin RenterArgs args;

    @Mixin CapsuleCommand.NewRecordArgs record;

    @Option(names = "--file", paramLabel = "FILE", description = "Append the bytes of FILE, streamed.")
    @Nullable Path file;

    @Option(names = "--stdin", description = "Append the bytes of standard input, streamed (so does - as the only argument).")
    boolean stdin;

    @Option(names = "--chunk-size", paramLabel = "BYTES", converter = SizeConverter.class,
        description = "Bytes per sub-record of a streamed input, e.g. 4096 or 4k (default: the largest the capsule"
            + " takes, its max sub-record bytes, less 16 in a private capsule).")
    @Nullable Long chunkSize;

    @Option(names = "--sub-records-per-record", paramLabel = "N",
        description = "Sub-records per record of a streamed input (default: as many as fit 4 MiB, the capsule's max"
            + " sub-records and the host's limits allow).")
    @Nullable Integer perRecord;

    @Option(names = "--progress", paramLabel = "MODE", defaultValue = "AUTO",
        description = "AUTO (a bar on standard error when it is a terminal, else nothing), BAR, LINES (one line per"
            + " record) or NONE (default: ${DEFAULT-VALUE}).")
    SyncCommand.Progress progress;

    @Override
    public Integer call() {
      Hash id = Args.hash(spec, "--capsule", record.capsule);
      boolean dash = record.payloads.equals(List.of("-"));
      boolean streamed = file != null || stdin || dash;
      if (streamed) {
        if ((file != null ? 1 : 0) + (stdin || dash ? 1 : 0) > 1) {
          throw Args.usage(spec, "give one input: --file FILE or standard input (--stdin, -)");
        }
        if ((!dash && !record.payloads.isEmpty()) || record.lines != null) {
          throw Args.usage(spec, "a file or standard input is appended alone: no sub-record arguments or --lines with it");
        }
        return guarded(() -> streamed(id));
      }
      if (chunkSize != null || perRecord != null) {
        throw Args.usage(spec, "--chunk-size and --sub-records-per-record cut a --file or standard input");
      }
      return guarded(() -> {
        List<byte[]> subRecords = record.subRecords();
        if (subRecords.isEmpty()) {
          throw Args.usage(spec, "give at least one sub-record (arguments, --lines FILE, --file FILE or --stdin)");
        }
        RenterState state = args.state();
        try (HostClient client = args.connect(id)) {
          CapsuleWriter writer = CapsuleCommand.writerFor(state, client, id, args);
          List<RecordWithBody> records = writer.append(client, subRecords);
          state.save(writer);
          RecordHeader header = records.get(0).record().header();
          ProgramResult result = RenterArgs.lastResult(writer);
          if (args.json) {
            System.out.println(new Json().put("record", header.hash().toHex()).put("height", header.height())
                .put("subRecords", header.subRecordCount()).put("heads", hexes(result.committedHeads()))
                .put("epoch", header.epochKeyOrNull() == null ? null : header.epochKeyOrNull().toHex())
                .put("cost", RenterArgs.cost(result)));
          } else {
            System.out.println("record  " + header.hash().toHex() + " at height " + header.height() + ", "
                + header.subRecordCount() + " sub-record(s), committed" + (header.epochKeyOrNull() == null ? ""
                    : ", encrypted under epoch " + header.epochKeyOrNull().toHex()));
            System.out.println("heads   " + String.join(", ", hexes(result.committedHeads())));
            System.out.println(RenterArgs.costLine(result));
          }
          return 0;
        }
      });
    }

    private int streamed(Hash id) throws IOException, RenterException {
      long size = -1;
      if (file != null) {
        if (!Files.isRegularFile(file)) {
          throw new NoSuchFileException(file.toString(), null, "no such file (or not a regular file)");
        }
        size = Files.size(file);
      }
      RenterState state = args.state();
      try (HostClient client = args.connect(id);
          InputStream in = file != null ? Files.newInputStream(file) : new BufferedInputStream(System.in, 1 << 16)) {
        CapsuleWriter writer = CapsuleCommand.writerFor(state, client, id, args);
        ChunkedAppender.Layout layout;
        try {
          layout = ChunkedAppender.Layout.forCapsule(writer.metadata(), client.priceTable().limits(),
              chunkSize == null ? null : (int) Math.min(Integer.MAX_VALUE, chunkSize), perRecord);
        } catch (IllegalArgumentException e) {
          throw Args.usage(spec, String.valueOf(e.getMessage()));
        }
        Costs costs = new Costs();
        AppendProgress shown = new AppendProgress(System.err, progress, size);
        int[] records = {0};
        long[] done = {0, 0, 0}; // bytes, first height, last height
        ChunkedAppender.Summary summary;
        try {
          summary = ChunkedAppender.append(client, writer, in, layout, (appended, result, bytes) -> {
            costs.add(result);
            done[0] = bytes;
            done[1] = records[0] == 0 ? appended.height() : done[1];
            done[2] = appended.height();
            shown.update(bytes, ++records[0], appended.height());
          });
        } catch (RenterException | IOException | RuntimeException e) {
          shown.finish();
          if (records[0] > 0) {
            // Each record is committed on its own: say what is in the capsule before the failure is reported.
            System.err.println("capsulevm: appended before the failure: " + records[0] + " record(s), heights "
                + done[1] + " to " + done[2] + ", the first " + done[0] + " bytes of the input; " + costs.line());
          }
          throw e;
        } finally {
          shown.finish();
          state.save(writer);
        }
        printAppended(id, layout, summary, writer, costs);
        return 0;
      }
    }

    private void printAppended(Hash id, ChunkedAppender.Layout layout, ChunkedAppender.Summary summary,
        CapsuleWriter writer, Costs costs) {
      String sha = HexFormat.of().formatHex(summary.sha256());
      SubRecordPosition first = summary.first();
      SubRecordPosition last = summary.last();
      RecordHeader head = writer.highestHead();
      String epoch = head == null || head.epochKeyOrNull() == null ? null : head.epochKeyOrNull().toHex();
      List<String> heads = new ArrayList<>();
      writer.heads().forEach(h -> heads.add(h.hash().toHex()));
      if (args.json) {
        List<Object> list = new ArrayList<>();
        for (ChunkedAppender.Appended r : summary.records()) {
          list.add(new Json().put("record", r.record().toHex()).put("height", r.height())
              .put("subRecords", r.subRecords()).put("bytes", r.bytes()));
        }
        System.out.println(new Json().put("capsule", id.toHex()).put("records", list)
            .put("subRecords", summary.subRecords()).put("bytes", summary.bytes()).put("sha256", sha)
            .put("chunkSize", layout.chunkBytes()).put("subRecordsPerRecord", layout.subRecordsPerRecord())
            .put("first", first == null ? null : first.toString()).put("last", last == null ? null : last.toString())
            .put("contiguous", summary.contiguous()).put("heads", heads).put("epoch", epoch)
            .put("cost", costs.json()));
        return;
      }
      if (first == null || last == null) {
        System.out.println("nothing appended: the input is empty");
        System.out.println(costs.line());
        return;
      }
      List<ChunkedAppender.Appended> records = summary.records();
      System.out.println("appended " + records.size() + " record(s), " + summary.subRecords() + " sub-record(s) of up to "
          + layout.chunkBytes() + " bytes, " + summary.bytes() + " bytes (" + SyncDisplay.bytes(summary.bytes())
          + "), sha256 " + sha + (epoch == null ? "" : ", encrypted"));
      for (int i = 0; i < records.size(); i++) {
        if (records.size() > 6 && i == 3) {
          System.out.println("        ... " + (records.size() - 6) + " more (--json lists every one)");
          i = records.size() - 3;
        }
        ChunkedAppender.Appended r = records.get(i);
        System.out.println("record  " + r.record().toHex() + " at height " + r.height() + ", " + r.subRecords()
            + " sub-record(s), " + r.bytes() + " bytes");
      }
      System.out.println("first   " + first + ", last " + last + " (height:index); read it back with: capsulevm capsule"
          + " read --capsule " + id.toHex() + " --from " + first + " --to " + last + " --out FILE");
      if (!summary.contiguous()) {
        System.out.println("note    another writer appended between these records: the heights from first to last"
            + " hold its records too (--json lists these)");
      }
      System.out.println("heads   " + String.join(", ", heads));
      System.out.println(costs.line());
    }
  }

  @Command(name = "read", mixinStandardHelpOptions = true,
      description = {"Read sub-records, each verified (against the capsule's newest known head) before a byte of it"
          + " is written: one (--record HASH or --height N, with --index I), a whole record (--all), or every one"
          + " from a position to another (--from HEIGHT[:INDEX] [--to HEIGHT[:INDEX]]), as capsule append reports"
          + " them.",
          "Raw bytes when standard output is not a terminal or with --out FILE, text on a terminal (--raw, --text,"
              + " --hex choose). Runs of sub-records are read in programs of at most --window bytes each, so"
              + " memory stays bounded."})
  static final class Read implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin RenterArgs args;

    @Option(names = "--capsule", required = true, paramLabel = "ID", description = "The capsule id (hex).")
    String capsule;

    @ArgGroup(exclusive = true, multiplicity = "0..1")
    CapsuleCommand.@Nullable Target target;

    @Option(names = "--index", paramLabel = "I", description = "The sub-record's index (default: 0).")
    @Nullable Long index;

    @Option(names = "--all", description = "Every sub-record of the record.")
    boolean all;

    @Option(names = "--from", paramLabel = "HEIGHT[:INDEX]",
        description = "The first sub-record of a range (index 0 when not given).")
    @Nullable String from;

    @Option(names = "--to", paramLabel = "HEIGHT[:INDEX]",
        description = "The last sub-record of a range (its record's last when no index is given; default: the end of"
            + " the capsule, as the heads fetched now say).")
    @Nullable String to;

    @Option(names = "--out", paramLabel = "FILE",
        description = "Write the payloads to FILE (raw unless --text or --hex), through FILE.part, moved onto FILE"
            + " only once everything is written and verified.")
    @Nullable Path out;

    @Option(names = "--window", paramLabel = "BYTES", converter = SizeConverter.class,
        description = "The most payload bytes one read program returns, by the capsule's sub-record size (default: 4m).")
    @Nullable Long window;

    @Mixin FormArgs format;

    @Override
    public Integer call() {
      Hash id = Args.hash(spec, "--capsule", capsule);
      boolean range = from != null;
      if (range == (target != null)) {
        throw Args.usage(spec, "name what to read: --record HASH or --height N (with --index I or --all), or --from"
            + " HEIGHT[:INDEX]");
      }
      if (to != null && !range) {
        throw Args.usage(spec, "--to ends a range that --from starts");
      }
      if (range && (index != null || all)) {
        throw Args.usage(spec, "--index and --all name sub-records of one record: a range has --from and --to");
      }
      if (all && index != null) {
        throw Args.usage(spec, "--all reads every sub-record: leave out --index");
      }
      PayloadSink.Form form = format.form(spec, out != null);
      long windowBytes = window != null ? window : RangeReader.DEFAULT_WINDOW_BYTES;
      CapsuleCommand.Target named = target;
      if (!range && !all && named != null) {
        long i = index == null ? 0 : Args.nonNegative(spec, "--index", index);
        Hash record = named.record == null ? null : Args.hash(spec, "--record", named.record);
        return guarded(() -> single(id, record, i, form));
      }
      if (args.json && out == null) {
        throw Args.usage(spec, "with --json the summary goes to standard output: give --out FILE for the data");
      }
      String fromText = from;
      String toText = to;
      SubRecordPosition first = fromText != null ? position(spec, "--from", fromText, 0) : null;
      SubRecordPosition last = fromText != null && toText != null ? position(spec, "--to", toText, Long.MAX_VALUE) : null;
      Hash record = target != null && target.record != null ? Args.hash(spec, "--record", target.record) : null;
      return guarded(() -> run(id, record, first, last, form, windowBytes));
    }

    /** {@code HEIGHT[:INDEX]}, the index {@code missingIndex} when not given. */
    static SubRecordPosition position(CommandSpec spec, String what, String text, long missingIndex) {
      String[] parts = text.strip().split(":", -1);
      try {
        if (parts.length == 1 || parts.length == 2) {
          long height = Long.parseLong(parts[0].strip());
          long i = parts.length == 2 ? Long.parseLong(parts[1].strip()) : missingIndex;
          if (height >= 1 && i >= 0) {
            return new SubRecordPosition(height, i);
          }
        }
      } catch (NumberFormatException e) {
        // reported below
      }
      throw Args.usage(spec, what + " takes HEIGHT or HEIGHT:INDEX (a height of at least 1, an index from 0), got '"
          + text + "'");
    }

    /** One sub-record, as {@code capsule read} always read it. */
    private int single(Hash id, @Nullable Hash record, long i, PayloadSink.Form form)
        throws IOException, RenterException {
      CapsuleCommand.Target named = Objects.requireNonNull(target);
      try (HostClient client = args.connect(id)) {
        CapsuleCommand.View view = CapsuleCommand.View.of(args.state(), client, id);
        RecordHeader anchor = view.anchor();
        ProgramBuilder builder = view.builder();
        if (record != null) {
          builder.readSubRecord(record, i, anchor);
        } else {
          builder.readSubRecordAtHeight(named.height(), i, anchor);
        }
        ProgramResult result = client.run(builder.build());
        VerifiedOutput read = result.output(0);
        RecordHeader proven = Objects.requireNonNull(read.provenHeaderOrNull(), "a verified read proves its record");
        if (read.isDropped()) {
          // Verified: the leaf hash is in the record, and the witness and its policy let the payload go.
          DroppedSubRecord dropped = read.dropped();
          if (args.json) {
            System.out.println(new Json().put("record", proven.hash().toHex()).put("height", proven.height())
                .put("index", i).put("dropped", true).put("leafHash", dropped.leafHash().toHex())
                .put("witness", dropped.witness().hash().toHex())
                .put("retention", DroppedSubRecord.describe(dropped.policy())).put("anchor", anchor.hash().toHex())
                .put("cost", RenterArgs.cost(result)));
          } else {
            System.out.println("dropped: " + dropped.describe());
            System.err.println(RenterArgs.costLine(result));
          }
          return CapsuleCommand.EXIT_DROPPED;
        }
        // Verified first (the proof above), then, in a private capsule, decrypted.
        byte[] payload = view.plaintext(read);
        String epoch = proven.epochKeyOrNull() == null ? null : proven.epochKeyOrNull().toHex();
        if (args.json && out == null) {
          boolean asHex = form == PayloadSink.Form.HEX;
          String text = asHex ? HexFormat.of().formatHex(payload) : new String(payload, StandardCharsets.UTF_8);
          System.out.println(new Json().put("record", proven.hash().toHex())
              .put("height", proven.height()).put("index", i)
              .put(asHex ? "payloadHex" : "payload", text).put("anchor", anchor.hash().toHex())
              .put("epoch", epoch).put("cost", RenterArgs.cost(result)));
          return 0;
        }
        String sha;
        try (PayloadSink sink = out != null ? PayloadSink.file(out, form) : PayloadSink.stdout(form)) {
          sink.write(payload);
          sink.commit();
          sha = sink.sha256();
        }
        if (args.json) {
          System.out.println(new Json().put("record", proven.hash().toHex()).put("height", proven.height())
              .put("index", i).put("out", String.valueOf(out)).put("bytes", payload.length).put("sha256", sha)
              .put("anchor", anchor.hash().toHex()).put("epoch", epoch).put("cost", RenterArgs.cost(result)));
        } else {
          System.err.println("verified: sub-record " + i + " of record " + proven.hash().toHex()
              + " (height " + proven.height() + ") against head " + anchor.hash().toHex()
              + (epoch == null ? "" : "; decrypted (epoch " + epoch + ")")
              + (out == null ? "" : "; " + payload.length + " bytes written to " + out));
          System.err.println(RenterArgs.costLine(result));
        }
        return 0;
      }
    }

    /** A whole record, or a range of positions, streamed. */
    private int run(Hash id, @Nullable Hash record, @Nullable SubRecordPosition first,
        @Nullable SubRecordPosition last, PayloadSink.Form form, long windowBytes) throws IOException, RenterException {
      try (HostClient client = args.connect(id)) {
        CapsuleCommand.View view = CapsuleCommand.View.of(args.state(), client, id);
        CapsuleCommand.Target named = target;
        long wanted = last != null ? last.height() : first != null ? first.height()
            : named != null && named.height != null ? named.height : 0;
        if ((first != null && last == null) || wanted > view.anchor().height()) {
          view.refresh(); // the end of the capsule, or a height above the newest head this state knew
        }
        RecordHeader anchor = view.anchor();
        if (wanted > anchor.height()) {
          throw new RenterException("capsule " + id.toHex() + " ends at height " + anchor.height()
              + " (its newest head, verified now): there is no height " + wanted);
        }
        Costs costs = new Costs();
        List<RecordHeader> skipped = new ArrayList<>();
        RangeReader reader = view.rangeReader(windowBytes);
        RangeReader.Summary summary;
        String sha;
        try (PayloadSink sink = out != null ? PayloadSink.file(out, form) : PayloadSink.stdout(form)) {
          RangeReader.Listener listener = new RangeReader.Listener() {
            @Override
            public void ran(ProgramResult result) {
              costs.add(result);
            }

            @Override
            public void skipped(RecordHeader header) {
              skipped.add(header);
            }
          };
          RangeReader.Sink payloads = (header, index, plaintext) -> sink.write(plaintext);
          try {
            if (first != null) {
              summary = reader.read(anchor, first,
                  last != null ? last : new SubRecordPosition(anchor.height(), Long.MAX_VALUE), payloads, listener);
            } else if (record != null) {
              summary = readRecord(view, reader, record, payloads, listener);
            } else {
              long height = Objects.requireNonNull(Objects.requireNonNull(named).height);
              summary = reader.read(anchor, new SubRecordPosition(height, 0),
                  new SubRecordPosition(height, Long.MAX_VALUE), payloads, listener);
            }
          } catch (SubRecordDroppedException e) {
            sink.flush();
            System.err.println("dropped: " + e.dropped().describe() + "; " + sink.payloads()
                + " sub-record(s) before it were written" + (out == null ? "" : ", and " + out + " was not"));
            System.err.println(costs.line());
            return CapsuleCommand.EXIT_DROPPED;
          } catch (IllegalArgumentException e) {
            throw new RenterException(String.valueOf(e.getMessage()), e);
          } finally {
            if (metadataIsPrivate(view)) {
              view.save(); // keys and membership records learnt while decrypting
            }
          }
          sink.commit();
          sha = sink.sha256();
        }
        RecordHeader head = view.anchor();
        if (args.json) {
          System.out.println(new Json().put("capsule", id.toHex()).put("records", summary.records())
              .put("subRecords", summary.subRecords()).put("bytes", summary.bytes()).put("sha256", sha)
              .put("skipped", summary.skipped()).put("out", out == null ? null : out.toString())
              .put("anchor", head.hash().toHex()).put("cost", costs.json()));
        } else {
          for (RecordHeader s : skipped) {
            System.err.println("skipped record " + s.hash().toHex() + " (height " + s.height() + "): a "
                + s.kind().name().toLowerCase(Locale.ROOT) + " record, not data");
          }
          System.err.println("verified: " + summary.subRecords() + " sub-record(s) of " + summary.records()
              + " record(s), " + summary.bytes() + " bytes, sha256 " + sha + ", against head " + head.hash().toHex()
              + " (height " + head.height() + ")" + (metadataIsPrivate(view) ? "; decrypted" : "")
              + (out == null ? "" : "; written to " + out));
          System.err.println(costs.line());
        }
        return 0;
      }
    }

    /** Record {@code record} whole; when it is not below the head this state knew, once more from the newest. */
    private static RangeReader.Summary readRecord(CapsuleCommand.View view, RangeReader reader, Hash record,
        RangeReader.Sink payloads, RangeReader.Listener listener) throws RenterException, IOException {
      try {
        return reader.readRecord(view.anchor(), record, payloads, listener);
      } catch (ProgramFailedException e) {
        if (e.reason() != ProgramFailedException.Reason.NOT_FOUND) {
          throw e;
        }
        view.refresh();
        return reader.readRecord(view.anchor(), record, payloads, listener);
      }
    }

    private static boolean metadataIsPrivate(CapsuleCommand.View view) {
      return view.metadata().isPrivate();
    }
  }
}
