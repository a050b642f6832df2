package dev.capsulevm.cli;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.renter.HostClient;
import dev.capsulevm.renter.RangeReader;
import dev.capsulevm.renter.RenterException;
import dev.capsulevm.renter.SubRecordDroppedException;
import dev.capsulevm.renter.SubRecordPosition;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code capsule follow ID}: prints a capsule's records as they are appended. It polls the heads every
 * {@code --poll-interval} through the verified {@code Heads} path (each head signed by a member with the
 * right, every head it knew among them or proven below one, else a rollback, exit 7), and reads each new
 * record's sub-records proven from the new head, verified before a byte is printed, until interrupted or
 * {@code --count} records were printed. Records are followed by height along the newest head's primary
 * chain; membership records are not data and are noted on standard error only.
 */
@Command(name = "follow", mixinStandardHelpOptions = true,
    description = {"Print a capsule's records as they are appended, each verified as it arrives (the heads polled"
        + " with the verified Heads path), until interrupted or --count records were printed.",
        "Payloads are printed as capsule read prints them (text on a terminal, raw bytes otherwise; --raw, --text,"
            + " --hex choose); each record is named on standard error. With --json, one JSON object per"
            + " sub-record and line on standard output."})
final class CapsuleFollowCommand implements Callable<Integer> {
  @Spec CommandSpec spec;
  @Mixin RenterArgs args;

  @Parameters(arity = "0..1", paramLabel = "ID", description = "The capsule id (hex); or --capsule ID.")
  @Nullable String idArgument;

  @Option(names = "--capsule", paramLabel = "ID", description = "The capsule id (hex).")
  @Nullable String capsule;

  @Option(names = "--from-height", paramLabel = "H",
      description = "Print from the record at height H on (default: only records appended from now on).")
  @Nullable Long fromHeight;

  @Option(names = "--count", paramLabel = "N", description = "Stop after N records (default: never).")
  @Nullable Long count;

  @Option(names = "--poll-interval", paramLabel = "DURATION", defaultValue = "1s", converter = DurationConverter.class,
      description = "How long to wait between polls of the heads when nothing new arrived, e.g. 500ms, 2s, 1m"
          + " (default: ${DEFAULT-VALUE}).")
  Duration pollInterval;

  @Option(names = "--window", paramLabel = "BYTES", converter = CapsuleDataCommand.SizeConverter.class,
      description = "The most payload bytes one read program returns (default: 4m).")
  @Nullable Long window;

  @Mixin CapsuleDataCommand.FormArgs format;

  /** A duration: a number with ms, s, m or h. */
  static final class DurationConverter implements CommandLine.ITypeConverter<Duration> {
    @Override
    public Duration convert(String text) {
      String t = text.strip().toLowerCase(Locale.ROOT);
      try {
        Duration d;
        if (t.endsWith("ms")) {
          d = Duration.ofMillis(Long.parseLong(t.substring(0, t.length() - 2).strip()));
        } else if (t.endsWith("s")) {
          d = Duration.ofSeconds(Long.parseLong(t.substring(0, t.length() - 1).strip()));
        } else if (t.endsWith("m")) {
          d = Duration.ofMinutes(Long.parseLong(t.substring(0, t.length() - 1).strip()));
        } else if (t.endsWith("h")) {
          d = Duration.ofHours(Long.parseLong(t.substring(0, t.length() - 1).strip()));
        } else {
          throw new NumberFormatException("no unit");
        }
        if (d.isNegative() || d.isZero()) {
          throw new NumberFormatException("not positive");
        }
        return d;
      } catch (NumberFormatException | ArithmeticException e) {
        throw new CommandLine.TypeConversionException("'" + text + "' is not a positive duration (e.g. 500ms, 2s, 1m)");
      }
    }
  }

  @Override
  public Integer call() {
    if ((idArgument == null) == (capsule == null)) {
      throw Args.usage(spec, "name the capsule once: capsule follow ID, or --capsule ID");
    }
    Hash id = Args.hash(spec, "--capsule", idArgument != null ? idArgument : capsule);
    if (fromHeight != null) {
      Args.inRange(spec, "--from-height", fromHeight, 1, Long.MAX_VALUE);
    }
    if (count != null) {
      Args.inRange(spec, "--count", count, 1, Long.MAX_VALUE);
    }
    PayloadSink.Form form = format.form(spec, false);
    long windowBytes = window != null ? window : RangeReader.DEFAULT_WINDOW_BYTES;
    return CapsuleCommand.guarded(() -> follow(id, form, windowBytes));
  }

  private int follow(Hash id, PayloadSink.Form form, long windowBytes) throws IOException, RenterException {
    try (HostClient client = args.connect(id);
        PayloadSink sink = PayloadSink.stdout(args.json ? PayloadSink.Form.RAW : form)) {
      CapsuleCommand.View view = CapsuleCommand.View.open(args.state(), client, id);
      RecordHeader head = view.refresh();
      long next = fromHeight != null ? fromHeight : head == null ? 1 : head.height() + 1;
      if (!args.json) {
        System.err.println("following capsule " + id.toHex() + " from height " + next + ", verified against head "
            + (head == null ? "(none yet)" : head.hash().toHex() + " (height " + head.height() + ")")
            + "; polling every " + pollInterval.toMillis() + " ms");
      }
      RangeReader reader = view.rangeReader(windowBytes);
      long[] printed = {0};
      RangeReader.Listener listener = new RangeReader.Listener() {
        @Override
        public void skipped(RecordHeader record) {
          if (!args.json) {
            System.err.println("record  " + record.hash().toHex() + " height " + record.height() + ": a "
                + record.kind().name().toLowerCase(Locale.ROOT) + " record, not data");
          }
        }

        @Override
        public void recordDone(RecordHeader record) {
          printed[0]++;
          try {
            sink.flush();
          } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
          }
          if (!args.json) {
            System.err.println("record  " + record.hash().toHex() + " height " + record.height() + ": "
                + record.subRecordCount() + " sub-record(s), verified");
          }
        }
      };
      RangeReader.Sink payloads = (record, index, plaintext) -> {
        if (args.json) {
          boolean asHex = form == PayloadSink.Form.HEX;
          String line = new Json().put("record", record.hash().toHex()).put("height", record.height())
              .put("index", index).put(asHex ? "payloadHex" : "payload", asHex ? HexFormat.of().formatHex(plaintext)
                  : new String(plaintext, StandardCharsets.UTF_8)).toString() + "\n";
          sink.write(line.getBytes(StandardCharsets.UTF_8));
        } else {
          sink.write(plaintext);
        }
      };
      while (count == null || printed[0] < count) {
        if (head != null && head.height() >= next) {
          // Each record of the run is proven from the head just verified, then read and verified.
          long last = count == null ? head.height() : Math.min(head.height(), next + (count - printed[0]) - 1);
          try {
            reader.read(head, new SubRecordPosition(next, 0), new SubRecordPosition(last, Long.MAX_VALUE), payloads,
                listener);
          } catch (SubRecordDroppedException e) {
            sink.flush();
            System.err.println("dropped: " + e.dropped().describe());
            return CapsuleCommand.EXIT_DROPPED;
          } catch (java.io.UncheckedIOException e) {
            throw e.getCause();
          }
          next = last + 1;
          view.save();
          continue;
        }
        try {
          Thread.sleep(pollInterval.toMillis());
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return 0;
        }
        head = view.refresh();
      }
      sink.commit();
      return 0;
    }
  }
}
