package dev.capsulevm.renter;

import dev.capsulevm.program.Instruction;
import dev.capsulevm.program.Output;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.Record;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Settles the two ends of a write that the stream alone cannot: one verdict per cause. Each runs verified
 * programs (a {@code Heads} program, {@code Prove}s) through the client, so it never runs in the gRPC
 * thread.
 */
final class WriteVerdicts {
  private WriteVerdicts() {}

  /**
   * The renter confirmed a commit and the end then failed verification ({@code bad}). The write is
   * committed when every record the program left as a head is now a head of the capsule or provably below
   * one, and every capsule it created is held: then {@link WriteCommittedException}; otherwise the
   * misbehaviour stands (nothing was committed). When the check cannot run, {@code bad} is the verdict,
   * with the check's failure suppressed in it.
   */
  static RenterException afterBadEnd(HostClient client, PreparedProgram program, List<Hash> confirmedHeads,
      HostMisbehaviourException bad) {
    try {
      for (ProgramBuilder.Step step : program.steps()) {
        if (step.instruction() instanceof Instruction.CreateCapsule && !held(client,
            Objects.requireNonNull(step.expectedCapsuleId()))) {
          return notCommitted(bad, "capsule " + step.expectedCapsuleId() + " is not held");
        }
      }
      List<Hash> tips = new ArrayList<>();
      for (ProgramBuilder.Step step : program.steps()) {
        ProgramBuilder.Appended appended = step.appendedOrNull();
        if (appended != null) {
          appended.records().stream().filter(confirmedHeads::contains).forEach(tips::add);
        }
      }
      Hash capsule = program.program().capsuleIdOrNull();
      if (capsule == null || tips.isEmpty()) {
        return new WriteCommittedException(List.of(), bad);
      }
      SignedMetadata metadata = metadataOf(client, program, capsule);
      List<Record> heads = verifiedHeads(client, capsule, metadata);
      for (Hash tip : tips) {
        if (!atOrBelow(client, capsule, metadata, tip, heads)) {
          return notCommitted(bad, "record " + tip + " is not in the capsule");
        }
      }
      return new WriteCommittedException(heads, bad);
    } catch (RenterException e) {
      bad.addSuppressed(e);
      return bad;
    }
  }

  /**
   * An append met heads the renter does not know, and the renter refused its commit. They are another
   * writer's when each is a head of the capsule now, or provably below one (it may have appended again
   * since): then {@link AppendConflictException}; otherwise the append's output named heads the capsule
   * does not have, which is misbehaviour.
   */
  static RenterException afterConflict(HostClient client, PreparedProgram program, UnresolvedConflict conflict) {
    Hash capsule = Objects.requireNonNull(program.program().capsuleIdOrNull(), "an append names its capsule");
    try {
      SignedMetadata metadata = metadataOf(client, program, capsule);
      List<Record> heads = verifiedHeads(client, capsule, metadata);
      for (Hash extra : conflict.extraHeads()) {
        if (!atOrBelow(client, capsule, metadata, extra, heads)) {
          return new HostMisbehaviourException(HostMisbehaviourException.Part.OUTPUT, conflict.appendIndex(),
              "the append leaves head " + extra + ", which is not a record of the capsule at or below its heads "
                  + heads.stream().map(Record::hash).toList() + "; nothing was committed");
        }
      }
      return new AppendConflictException(heads, conflict.receiptOrNull());
    } catch (HostMisbehaviourException e) {
      return e;
    } catch (RenterException e) {
      return new RenterException("the append met heads the renter does not know (" + conflict.extraHeads()
          + "; nothing was committed), and checking them failed: " + e.getMessage(), e);
    }
  }

  private static HostMisbehaviourException notCommitted(HostMisbehaviourException bad, String why) {
    return new HostMisbehaviourException(bad.part(), bad.instructionIndex(), bad.getMessage()
        + "; the write is not committed (" + why + ", checked with verified programs)", bad);
  }

  private static SignedMetadata metadataOf(HostClient client, PreparedProgram program, Hash capsule)
      throws RenterException {
    for (ProgramBuilder.Step step : program.steps()) {
      SignedMetadata metadata = step.metadataOrNull();
      if (metadata != null && metadata.capsuleId().equals(capsule)) {
        return metadata;
      }
    }
    return client.metadata(capsule);
  }

  /** Whether the host holds capsule {@code id}: its metadata, verified against the id. */
  private static boolean held(HostClient client, Hash id) throws RenterException {
    try {
      client.metadata(id);
      return true;
    } catch (ProgramFailedException e) {
      if (e.reason() == ProgramFailedException.Reason.NOT_FOUND) {
        return false;
      }
      throw e;
    }
  }

  /** The capsule's heads through a verified {@code Heads} program (each signed by a writer). */
  static List<Record> verifiedHeads(HostClient client, Hash capsule, SignedMetadata metadata)
      throws RenterException {
    ProgramBuilder builder = new ProgramBuilder(capsule, metadata, null, client.proofCache()::getIfPresent);
    builder.heads();
    return ((Output.Heads) client.run(builder.build()).output(0).output()).heads();
  }

  /**
   * Whether {@code target} is one of {@code heads} or a record below one of them, by a verified
   * {@code Prove} from each head in turn (NOT_FOUND from one head is an honest "not below this one").
   */
  static boolean atOrBelow(HostClient client, Hash capsule, SignedMetadata metadata, Hash target,
      List<Record> heads) throws RenterException {
    for (Record head : heads) {
      if (head.hash().equals(target)) {
        return true;
      }
    }
    for (Record head : heads) {
      ProgramBuilder builder = new ProgramBuilder(capsule, metadata, null, client.proofCache()::getIfPresent);
      builder.prove(target, head.header());
      try {
        client.run(builder.build());
        return true;
      } catch (ProgramFailedException e) {
        if (e.reason() != ProgramFailedException.Reason.NOT_FOUND) {
          throw e;
        }
      }
    }
    return false;
  }
}
