package dev.capsulevm.cli;

import dev.capsulevm.host.daemon.OneLine;
import dev.capsulevm.pricing.InstructionKind;
import dev.capsulevm.pricing.SignedReceipt;
import dev.capsulevm.program.Instruction;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.renter.PreparedProgram;
import dev.capsulevm.renter.ReceiptListener;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import org.jspecify.annotations.Nullable;

/**
 * The receipts a renter's commands verified, kept in its state as {@code receipts.log}: one line per
 * receipt, appended when the SDK has verified it (before the command sees the program's result), a
 * failed program's included:
 *
 * <pre>
 * r1 HOST:PORT KIND SIGNED-RECEIPT-HEX
 * </pre>
 *
 * {@code KIND} names the program's instructions in order of first use with their counts
 * ({@code append}, {@code read(100)}, {@code prove+read+has}); {@code HOST:PORT} is the address dialled
 * ({@code -} when a command tried several). Everything else shown about a receipt (when, which host key,
 * capsule, budget, cost, refund, committed heads, failure) is read from the signed bytes, which
 * {@code capsulevm receipts --verify} checks again offline. A line is about 700 bytes; nothing trims the
 * file (move or delete it to start again); a line the reader cannot parse (a torn last line after a
 * crash) is reported, not fatal.
 */
final class ReceiptLog {
  static final String FILE = "receipts.log";
  /** The host address of a receipt whose client was made without one. */
  static final String UNKNOWN_HOST = "-";
  private static final String VERSION = "r1";
  /** Appends from every client of the process go through one lock, so lines never interleave. */
  private static final Object APPEND_LOCK = new Object();

  private final Path file;

  ReceiptLog(Path file) {
    this.file = file;
  }

  Path file() {
    return file;
  }

  /**
   * A listener that appends each verified receipt under {@code host}; a receipt it cannot write is one
   * warning on standard error (once per listener), and the command goes on.
   */
  ReceiptListener listener(String host) {
    AtomicBoolean warned = new AtomicBoolean();
    return (program, receipt) -> {
      try {
        append(host, kind(program), receipt);
      } catch (IOException | RuntimeException e) {
        if (!warned.getAndSet(true)) {
          System.err.println("capsulevm: warning: could not keep a receipt in " + file + ": " + OneLine.of(e));
        }
      }
    };
  }

  /** Appends one receipt. */
  void append(String host, String kind, SignedReceipt receipt) throws IOException {
    String line = VERSION + " " + host.replaceAll("\\s", "_") + " " + kind + " "
        + HexFormat.of().formatHex(receipt.encode()) + "\n";
    synchronized (APPEND_LOCK) {
      Path parent = file.toAbsolutePath().getParent();
      if (parent != null) {
        Files.createDirectories(parent);
      }
      Files.writeString(file, line, StandardCharsets.US_ASCII, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    }
  }

  /**
   * One line of the log: the receipt, or why the line does not parse.
   *
   * @param line the line number, from 1
   */
  record Entry(int line, String host, String kind, @Nullable SignedReceipt receiptOrNull, @Nullable String errorOrNull) {}

  /** Every line, in order; no file is no receipts. */
  List<Entry> read() throws IOException {
    List<Entry> out = new ArrayList<>();
    if (!Files.exists(file)) {
      return out;
    }
    List<String> lines = Files.readAllLines(file, StandardCharsets.US_ASCII);
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i).strip();
      if (line.isEmpty()) {
        continue;
      }
      String[] parts = line.split(" ", -1);
      if (parts.length != 4 || !parts[0].equals(VERSION)) {
        out.add(new Entry(i + 1, "?", "?", null, "not a receipt line (" + VERSION + " HOST KIND HEX)"));
        continue;
      }
      try {
        out.add(new Entry(i + 1, parts[1], parts[2], SignedReceipt.parse(HexFormat.of().parseHex(parts[3])), null));
      } catch (VerificationException | IllegalArgumentException e) {
        out.add(new Entry(i + 1, parts[1], parts[2], null, "the receipt does not parse: " + e.getMessage()));
      }
    }
    return out;
  }

  /** The program's instruction kinds in order of first use, each with its count when above one. */
  static String kind(PreparedProgram program) {
    Map<InstructionKind, Integer> counts = new LinkedHashMap<>();
    for (Instruction instruction : program.program().instructions()) {
      counts.merge(instruction.kind(), 1, Integer::sum);
    }
    List<String> parts = new ArrayList<>();
    counts.forEach((kind, n) -> parts.add(word(kind) + (n > 1 ? "(" + n + ")" : "")));
    return parts.isEmpty() ? "empty" : String.join("+", parts);
  }

  private static String word(InstructionKind kind) {
    return switch (kind) {
      case CREATE_CAPSULE -> "create";
      case APPEND_RECORD -> "append";
      case READ_SUB_RECORD -> "read";
      case PROVE -> "prove";
      case HAS_RECORD -> "has";
      case READ_BY_HASH -> "read-by-hash";
      case HEADS -> "heads";
      case METADATA -> "metadata";
    };
  }
}
