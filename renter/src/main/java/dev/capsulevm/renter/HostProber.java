package dev.capsulevm.renter;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import dev.capsulevm.renter.evidence.Claim;

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

  /** The signed claim of output {@code index} of a verified program: its receipt, entry and inputs. */
  static Claim claimOfOutput(ProgramResult result, int index) {
    return Claim.Entry.of(result.signedReceipt(), result.transcriptEntries(), index, result.inputsOf(index));
  }
}
