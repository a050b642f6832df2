package dev.capsulevm.cli;

import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.PricingException;
import dev.capsulevm.pricing.Receipt;
import dev.capsulevm.pricing.SignedReceipt;
import dev.capsulevm.proofs.Hash;
import java.nio.file.Path;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code capsulevm receipts}: the receipts kept in the renter's state ({@link ReceiptLog}), newest last,
 * read from their signed bytes; {@code --verify} checks each host signature again, offline.
 */
@Command(name = "receipts", mixinStandardHelpOptions = true,
    description = "List the receipts this renter's commands verified and kept (state/receipts.log): when, host,"
        + " capsule, program, cost, refund, committed heads. --verify checks every host signature again, offline.",
    exitCodeListHeading = "Exit codes:%n",
    exitCodeList = {
      "0:listed (and, with --verify, every signature verified)",
      "1:a line does not parse, or (--verify) a signature does not verify: each is named on standard error",
      "2:bad arguments"})
final class ReceiptsCommand implements Callable<Integer> {
  @Spec CommandSpec spec;
  @Mixin ConfigArgs configArgs;

  @Option(names = "--state", paramLabel = "DIR",
      description = "The renter's local state (default: $CAPSULEVM_STATE or the config's state, else ~/.capsulevm/renter).")
  @Nullable Path state;

  @Option(names = "--capsule", paramLabel = "ID",
      description = "Only receipts of this capsule (its id in hex, or a prefix of at least 8 digits).")
  @Nullable String capsule;

  @Option(names = "--last", paramLabel = "N", description = "Only the last N receipts listed (after --capsule).")
  @Nullable Integer last;

  @Option(names = "--verify", description = "Check every receipt's signature by the host key it names.")
  boolean verify;

  @Option(names = "--json", description = "Print one JSON object instead of readable text.")
  boolean json;

  @Override
  public Integer call() {
    String prefix = capsule == null ? null : capsule.strip().toLowerCase(Locale.ROOT);
    if (prefix != null && (prefix.length() < 8 || prefix.length() > 64 || !prefix.chars().allMatch(
        c -> Character.digit(c, 16) >= 0))) {
      throw Args.usage(spec, "--capsule: a capsule id in hex, or a prefix of at least 8 hex digits, got '" + capsule + "'");
    }
    if (last != null) {
      Args.inRange(spec, "--last", last, 1, Integer.MAX_VALUE);
    }
    return CapsuleCommand.guarded(() -> {
      RenterState renter = new RenterState(state != null ? state : RenterState.defaultRoot());
      ReceiptLog log = renter.receipts();
      List<ReceiptLog.Entry> entries = new ArrayList<>();
      for (ReceiptLog.Entry e : log.read()) {
        SignedReceipt r = e.receiptOrNull();
        Hash id = r == null ? null : r.receipt().capsuleIdOrNull();
        if (prefix == null || (id != null && id.toHex().startsWith(prefix))) {
          entries.add(e);
        }
      }
      if (last != null && entries.size() > last) {
        entries = entries.subList(entries.size() - last, entries.size());
      }
      List<String> problems = new ArrayList<>();
      long cost = 0;
      long refund = 0;
      List<Object> list = new ArrayList<>();
      for (ReceiptLog.Entry e : entries) {
        SignedReceipt signed = e.receiptOrNull();
        if (signed == null) {
          problems.add("line " + e.line() + " of " + log.file() + ": " + e.errorOrNull());
          continue;
        }
        Receipt r = signed.receipt();
        Boolean verified = null;
        if (verify) {
          try {
            signed.verify(r.hostKey());
            verified = true;
          } catch (PricingException bad) {
            verified = false;
            problems.add("line " + e.line() + " of " + log.file() + ": the signature does not verify by host key "
                + r.hostKey().toHex() + " (" + bad.getMessage() + ")");
          }
        }
        cost += r.finalCost().units();
        refund += r.refund().units();
        if (json) {
          list.add(json(e, r, verified));
        } else {
          System.out.println(line(e, r, verified));
        }
      }
      if (json) {
        System.out.println(new Json().put("file", log.file().toString()).put("receipts", list)
            .put("count", list.size()).put("costUnits", cost).put("refundUnits", refund)
            .put("verified", verify ? problems.isEmpty() : null));
      } else {
        System.out.println(entries.size() + (entries.size() == 1 ? " receipt" : " receipts") + " in " + log.file()
            + ": cost " + Amount.of(cost) + ", refunded " + Amount.of(refund)
            + (verify ? (problems.isEmpty() ? "; every signature verified" : "; " + problems.size() + " problem(s)") : ""));
      }
      problems.forEach(p -> System.err.println("capsulevm: " + p));
      return problems.isEmpty() ? 0 : Failures.EXIT_FAILED;
    });
  }

  /** {@code TIME HOST CAPSULE KIND cost X of Y, Z refunded[, heads H,...][; failed: ...][; signature ok]}. */
  static String line(ReceiptLog.Entry e, Receipt r, @Nullable Boolean verified) {
    StringBuilder out = new StringBuilder();
    out.append(r.issuedAt().truncatedTo(ChronoUnit.MILLIS)).append("  ").append(e.host()).append("  ")
        .append(r.capsuleIdOrNull() == null ? "(no capsule)" : shorten(r.capsuleIdOrNull())).append("  ")
        .append(e.kind()).append("  cost ").append(r.finalCost()).append(" of ").append(r.budget()).append(", ")
        .append(r.refund()).append(" refunded");
    if (!r.committedHeads().isEmpty()) {
      out.append(", heads ").append(String.join(",", r.committedHeads().stream().map(ReceiptsCommand::shorten).toList()));
    }
    if (r.failed()) {
      out.append("; failed (reason ").append(r.failureReason()).append("): ").append(r.failureMessage());
    }
    if (verified != null) {
      out.append(verified ? "; signature ok" : "; SIGNATURE BAD");
    }
    return out.toString();
  }

  static Json json(ReceiptLog.Entry e, Receipt r, @Nullable Boolean verified) {
    List<Object> heads = new ArrayList<>();
    r.committedHeads().forEach(h -> heads.add(h.toHex()));
    return new Json().put("line", e.line()).put("issuedAt", r.issuedAt().toString()).put("host", e.host())
        .put("hostKey", r.hostKey().toHex()).put("capsule", r.capsuleIdOrNull() == null ? null : r.capsuleIdOrNull().toHex())
        .put("kind", e.kind()).put("program", r.programId().toHex()).put("priceTable", r.priceTableId().toHex())
        .put("budgetUnits", r.budget().units()).put("costUnits", r.finalCost().units())
        .put("refundUnits", r.refund().units()).put("uploadBytes", r.uploadBytes())
        .put("downloadBytes", r.downloadBytes()).put("committedHeads", heads).put("failed", r.failed())
        .put("failureReason", r.failed() ? r.failureReason() : null)
        .put("failureMessage", r.failed() ? r.failureMessage() : null)
        .put("signatureVerified", verified);
  }

  private static String shorten(Hash hash) {
    return hash.toHex().substring(0, 16) + "...";
  }
}
