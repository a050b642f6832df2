package dev.capsulevm.renter;

import dev.capsulevm.program.Output;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.Record;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import dev.capsulevm.renter.evidence.Claim;
import java.util.ArrayList;
import java.util.List;

/** Asks a host, in verified programs, what {@link HeadTracker} needs to know about a tracked head. */
final class HostProber implements HeadTracker.Prober {
  private final HostClient client;
  private final SignedMetadata metadata;

  HostProber(HostClient client, SignedMetadata metadata) {
    this.client = client;
    this.metadata = metadata;
  }

  @Override
  public HeadTracker.Held has(Hash record) throws RenterException {
    ProgramBuilder builder = ProgramBuilder.withoutCapsule();
    builder.has(record);
    ProgramResult result = client.run(builder.build());
    return new HeadTracker.Held(result.output(0).provenHeaderOrNull() != null, claimOfOutput(result, 0));
  }

  @Override
  public boolean provesBelow(Hash target, RecordHeader anchor) throws RenterException {
    ProgramBuilder builder = new ProgramBuilder(metadata.capsuleId(), metadata, null, null);
    builder.prove(target, anchor);
    try {
      client.run(builder.build());
      return true;
    } catch (ProgramFailedException e) {
      if (e.reason() == ProgramFailedException.Reason.NOT_FOUND) {
        return false;
      }
      throw e;
    }
  }

  /** The heads output 0 of a verified {@code Heads} program returned, each vouched for by that output. */
  static List<HeadTracker.VouchedHead> vouchedHeads(ProgramResult headsProgram) {
    Claim claim = claimOfOutput(headsProgram, 0);
    List<HeadTracker.VouchedHead> out = new ArrayList<>();
    for (Record head : ((Output.Heads) headsProgram.output(0).output()).heads()) {
      out.add(new HeadTracker.VouchedHead(head, claim));
    }
    return out;
  }

  /**
   * Moves {@code tracker} to {@code fresh}, asking this host what it needs; a rollback's evidence is
   * written to the client's evidence directory before the exception leaves.
   */
  HeadTracker.Update advance(HeadTracker tracker, List<HeadTracker.VouchedHead> fresh) throws RenterException {
    try {
      return tracker.advance(fresh, this);
    } catch (RollbackException e) {
      throw e.writtenUnder(client.options().evidenceDirOrNull(), client.options().clock().millis());
    }
  }

  /** The signed claim of output {@code index} of a verified program: its receipt, entry and inputs. */
  static Claim claimOfOutput(ProgramResult result, int index) {
    return new Claim.Entry(result.signedReceipt(), result.transcriptEntry(index), result.inputsOf(index),
        result.transcriptInclusion(index));
  }
}
