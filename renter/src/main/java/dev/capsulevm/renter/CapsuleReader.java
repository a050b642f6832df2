package dev.capsulevm.renter;

import dev.capsulevm.program.Output;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.Record;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import dev.capsulevm.renter.evidence.Claim;
import dev.capsulevm.renter.evidence.Evidence;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A reader of one capsule that may start from nothing but its id: it fetches the capsule's signed metadata
 * (self-certifying: it hashes to the id) and keeps the newest heads it verified in a {@link HeadTracker},
 * so a host that later rolls the capsule back is caught, with evidence written to the evidence directory
 * when one is given.
 */
public final class CapsuleReader {
  private final HostClient client;
  private final SignedMetadata metadata;
  private final HeadTracker tracker;
  private final @Nullable Path evidenceDirOrNull;

  private CapsuleReader(HostClient client, SignedMetadata metadata, HeadTracker tracker,
      @Nullable Path evidenceDirOrNull) {
    this.client = client;
    this.metadata = metadata;
    this.tracker = tracker;
    this.evidenceDirOrNull = evidenceDirOrNull;
  }

  /**
   * A reader of {@code capsuleId}.
   *
   * @param metadataOrNull the capsule's metadata when the renter holds it (checked against the id), else
   *     fetched from the host
   * @param tracked the heads this renter verified before, with their claims (empty the first time)
   * @param evidenceDirOrNull where evidence of a rollback is written, or null to only throw it
   */
  public static CapsuleReader open(HostClient client, Hash capsuleId, @Nullable SignedMetadata metadataOrNull,
      Collection<HeadTracker.VouchedHead> tracked, @Nullable Path evidenceDirOrNull) throws RenterException {
    Objects.requireNonNull(client, "client");
    SignedMetadata metadata = metadataOrNull != null ? metadataOrNull : client.metadata(capsuleId);
    if (!metadata.capsuleId().equals(capsuleId)) {
      throw new IllegalArgumentException("metadata of capsule " + metadata.capsuleId() + " given for " + capsuleId);
    }
    return new CapsuleReader(client, metadata, new HeadTracker(capsuleId, tracked), evidenceDirOrNull);
  }

  public Hash capsuleId() {
    return metadata.capsuleId();
  }

  public SignedMetadata metadata() {
    return metadata;
  }

  /** The tracked heads with the claims that vouch for them (what a renter saves between runs). */
  public List<HeadTracker.VouchedHead> trackedHeads() {
    return tracker.heads();
  }

  /** The highest tracked head, the usual anchor for reads, or null before the first refresh. */
  public @Nullable RecordHeader highestHead() {
    RecordHeader best = null;
    for (HeadTracker.VouchedHead v : tracker.heads()) {
      if (best == null || v.height() > best.height()) {
        best = v.head().header();
      }
    }
    return best;
  }

  /**
   * A builder on this capsule that knows its metadata and tracked heads, and the headers in the client's
   * proof cache.
   */
  public ProgramBuilder newProgram() {
    List<RecordHeader> heads = new ArrayList<>();
    tracker.heads().forEach(v -> heads.add(v.head().header()));
    return new ProgramBuilder(capsuleId(), metadata, heads, h -> client.proofCache().getIfPresent(h));
  }

  /**
   * Reads the capsule's heads (verified, each signed by a writer the metadata names) and moves the tracked
   * heads to them as {@link HeadTracker#advance} allows.
   *
   * @throws RollbackException when the host dropped a head it had vouched for; its evidence is written first
   */
  public HeadTracker.Update refreshHeads() throws RenterException {
    ProgramBuilder builder = new ProgramBuilder(capsuleId(), metadata, null, null);
    builder.heads();
    ProgramResult result = client.run(builder.build());
    Claim claim = Claim.Entry.of(result.signedReceipt(), result.transcriptEntries(), 0, result.inputsOf(0));
    List<HeadTracker.VouchedHead> heads = new ArrayList<>();
    for (Record head : ((Output.Heads) result.output(0).output()).heads()) {
      heads.add(new HeadTracker.VouchedHead(head, claim));
    }
    try {
      return tracker.advance(heads, prober());
    } catch (RollbackException e) {
      throw written(e);
    }
  }

  private HeadTracker.Prober prober() {
    return new HeadTracker.Prober() {
      @Override
      public HeadTracker.Held has(Hash record) throws RenterException {
        ProgramBuilder builder = ProgramBuilder.withoutCapsule();
        builder.has(record);
        ProgramResult result = client.run(builder.build());
        Claim claim = Claim.Entry.of(result.signedReceipt(), result.transcriptEntries(), 0, result.inputsOf(0));
        return new HeadTracker.Held(result.output(0).provenHeaderOrNull() != null, claim);
      }

      @Override
      public boolean provesBelow(Hash target, RecordHeader anchor) throws RenterException {
        ProgramBuilder builder = new ProgramBuilder(capsuleId(), metadata, null, null);
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
    };
  }

  private RollbackException written(RollbackException e) throws RenterException {
    if (evidenceDirOrNull == null) {
      return e;
    }
    Evidence evidence = e.evidence();
    Path file = evidenceDirOrNull.resolve("evidence-" + evidence.capsuleId().toHex().substring(0, 16) + "-"
        + evidence.record().hash().toHex().substring(0, 16) + "-" + client.options().clock().millis() + ".cvmevid");
    try {
      Files.createDirectories(evidenceDirOrNull);
      Files.write(file, evidence.encode(), StandardOpenOption.CREATE_NEW);
    } catch (IOException io) {
      throw new RenterException("the host rolled capsule " + evidence.capsuleId() + " back, and writing the evidence to "
          + file + " failed: " + io.getMessage(), io);
    }
    return e.writtenTo(file);
  }
}
