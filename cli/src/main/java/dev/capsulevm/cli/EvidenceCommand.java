package dev.capsulevm.cli;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.renter.evidence.Evidence;
import dev.capsulevm.renter.evidence.EvidenceException;
import dev.capsulevm.renter.evidence.EvidenceVerifier;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code capsulevm evidence}: misbehaviour evidence a renter wrote, checked offline. */
@Command(
    name = "evidence",
    mixinStandardHelpOptions = true,
    description = "Misbehaviour evidence: two receipts one host signed that cannot both be true.",
    subcommands = EvidenceCommand.Verify.class)
final class EvidenceCommand {
  /** Exit code of a file that does not prove what it claims. */
  static final int EXIT_NOT_PROVEN = 1;
  /** Evidence files are a few kilobytes; anything far larger is not one. */
  private static final long MAX_FILE_BYTES = 64L << 20;

  @Command(name = "verify", mixinStandardHelpOptions = true,
      description = {"Checks an evidence file offline, with nothing but the file, and says what it proves.",
          "Exits 0 when it proves the host's misbehaviour, " + EXIT_NOT_PROVEN + " when it does not."})
  static final class Verify implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Parameters(paramLabel = "FILE", description = "The evidence file (.cvmevid).")
    Path file;

    @Option(names = "--capsule", paramLabel = "ID",
        description = "Require the evidence to be about this capsule (hex).")
    @Nullable String capsule;

    @Option(names = "--json", description = "Print one JSON object instead of readable text.")
    boolean json;

    @Override
    public Integer call() {
      Hash expected = capsule == null ? null : Args.hash(spec, "--capsule", capsule);
      byte[] bytes;
      try {
        if (Files.size(file) > MAX_FILE_BYTES) {
          System.err.println("capsulevm: " + file + " is larger than any evidence file (" + MAX_FILE_BYTES + " bytes)");
          return EXIT_NOT_PROVEN;
        }
        bytes = Files.readAllBytes(file);
      } catch (NoSuchFileException e) {
        System.err.println("capsulevm: cannot read " + file + ": no such file");
        return EXIT_NOT_PROVEN;
      } catch (IOException e) {
        System.err.println("capsulevm: cannot read " + file + ": " + e.getMessage());
        return EXIT_NOT_PROVEN;
      }
      try {
        EvidenceVerifier.Finding finding = EvidenceVerifier.verify(Evidence.parse(bytes), expected);
        if (json) {
          System.out.println(new Json().put("proven", true).put("kind", finding.kind().name())
              .put("host", finding.host().toHex()).put("capsule", finding.capsuleId().toHex())
              .put("record", finding.record().toHex()).put("height", finding.height())
              .put("heldAt", finding.heldAt().toString()).put("contradictedAt", finding.contradictedAt().toString())
              .put("statement", finding.statement()));
        } else {
          System.out.println("PROVEN  " + finding.kind() + ": " + finding.statement());
        }
        return 0;
      } catch (EvidenceException e) {
        if (json) {
          System.out.println(new Json().put("proven", false).put("reason", e.getMessage()));
        } else {
          System.out.println("NOT PROVEN  " + e.getMessage());
        }
        return EXIT_NOT_PROVEN;
      }
    }
  }
}
