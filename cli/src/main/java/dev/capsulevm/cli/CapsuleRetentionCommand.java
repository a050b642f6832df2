package dev.capsulevm.cli;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proofs.members.RetentionPolicy;
import dev.capsulevm.renter.CapsuleWriter;
import dev.capsulevm.renter.DroppedSubRecord;
import dev.capsulevm.renter.HostClient;
import dev.capsulevm.renter.ProgramResult;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code capsulevm capsule retention}: a superadmin sets the capsule's retention policy with a signed
 * membership record (docs/PROTOCOL.md, "Retention"). Hosts then drop the payloads of data records past
 * it, keeping their headers and leaf hashes; a read of a dropped sub-record says so, verifiably.
 */
@Command(name = "retention", mixinStandardHelpOptions = true,
    description = "Set the capsule's retention policy (superadmin only): keep the payloads of the newest N heights,"
        + " or of records newer than D milliseconds; hosts drop older data records' payloads and keep their headers.")
final class CapsuleRetentionCommand implements Callable<Integer> {
  @Spec CommandSpec spec;
  @Mixin RenterArgs args;

  @Option(names = "--capsule", required = true, paramLabel = "ID", description = "The capsule id (hex).")
  String capsule;

  @ArgGroup(exclusive = true, multiplicity = "1")
  Policy policy;

  /** Exactly one of the two. */
  static final class Policy {
    @Option(names = "--keep-heights", paramLabel = "N", description = "Keep the payloads of the newest N heights.")
    @Nullable Long heights;

    @Option(names = "--keep-millis", paramLabel = "D",
        description = "Keep the payloads of records newer than D milliseconds (by record timestamps).")
    @Nullable Long millis;
  }

  @Override
  public Integer call() {
    Hash id = Args.hash(spec, "--capsule", capsule);
    RetentionPolicy chosen = policy.heights != null ? policy(spec, "--keep-heights", policy.heights, true)
        : policy(spec, "--keep-millis", java.util.Objects.requireNonNull(policy.millis), false);
    return CapsuleCommand.guarded(() -> {
      RenterState state = args.state();
      try (HostClient client = args.connect(id)) {
        SigningKey signer = state.memberKey(id, args.accountKey);
        CapsuleWriter writer = state.writer(client, id, signer);
        MemberCommand.requireVersion2(writer.metadata());
        RecordWithBody record = writer.setRetention(client, chosen);
        state.save(writer);
        RecordHeader header = record.record().header();
        ProgramResult result = RenterArgs.lastResult(writer);
        if (args.json) {
          System.out.println(new Json().put("record", header.hash().toHex()).put("height", header.height())
              .put("mode", chosen.mode().name().toLowerCase(Locale.ROOT)).put("value", chosen.value())
              .put("signedBy", signer.publicKey().toHex()).put("cost", RenterArgs.cost(result)));
        } else {
          System.out.println("retention " + DroppedSubRecord.describe(chosen));
          System.out.println("record  " + header.hash().toHex() + " at height " + header.height()
              + ", a membership change signed by " + signer.publicKey().toHex() + ", committed");
          System.out.println(RenterArgs.costLine(result));
        }
        return 0;
      }
    });
  }

  private static RetentionPolicy policy(CommandSpec spec, String option, long value, boolean heights) {
    if (value < 1) {
      throw Args.usage(spec, option + " must be at least 1, got " + value);
    }
    return heights ? RetentionPolicy.keepHeights(value) : RetentionPolicy.keepMillis(value);
  }
}
