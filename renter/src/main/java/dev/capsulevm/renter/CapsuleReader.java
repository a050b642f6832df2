package dev.capsulevm.renter;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Objects;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * A reader of one capsule that may start from nothing but its id: it fetches the capsule's signed metadata
 * (self-certifying: it hashes to the id) and keeps the newest heads it verified in a {@link HeadTracker},
 * so a host that later rolls the capsule back is caught, with its evidence written to the client's evidence
 * directory ({@link RenterOptions#evidenceDirOrNull()}) when it has one.
 *
 * <p>For a version-2 capsule a head is accepted only once its writer is shown to have held the right for
 * it: the reader fetches the membership records below the heads it does not hold (verified, see {@link
 * CapsuleWriter}) and checks each head's member root and writer against them; {@link #members()} says who
 * holds what as of the heads.
 */
public final class CapsuleReader {
  private final HostClient client;
  private final SignedMetadata metadata;
  private final HeadTracker tracker;
  private final @Nullable MemberLog log;
  private @Nullable ProgramResult lastResult;

  private CapsuleReader(HostClient client, SignedMetadata metadata, HeadTracker tracker) {
    this.client = client;
    this.metadata = metadata;
    this.tracker = tracker;
    this.log = MemberLog.forCapsule(metadata);
  }

  /**
   * A reader of {@code capsuleId}.
   *
   * @param metadataOrNull the capsule's metadata when the renter holds it (checked against the id), else
   *     fetched from the host
   * @param tracked the heads this renter verified before, with their claims (empty the first time)
   */
  public static CapsuleReader open(HostClient client, Hash capsuleId, @Nullable SignedMetadata metadataOrNull,
      Collection<HeadTracker.VouchedHead> tracked) throws RenterException {
    Objects.requireNonNull(client, "client");
    SignedMetadata metadata = metadataOrNull != null ? metadataOrNull : client.metadata(capsuleId);
    if (!metadata.capsuleId().equals(capsuleId)) {
      throw new IllegalArgumentException("metadata of capsule " + metadata.capsuleId() + " given for " + capsuleId);
    }
    return new CapsuleReader(client, metadata, new HeadTracker(capsuleId, tracked));
  }

  public Hash capsuleId() {
    return metadata.capsuleId();
  }

  public SignedMetadata metadata() {
    return metadata;
  }

  /** The verified result of the last {@code Heads} program this reader ran, or null before the first. */
  public @Nullable ProgramResult lastResult() {
    return lastResult;
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
    Function<Hash, @Nullable RecordHeader> headers = h -> client.proofCache().getIfPresent(h);
    ProgramBuilder builder = new ProgramBuilder(capsuleId(), metadata, heads, headers);
    return log == null ? builder : builder.withMemberStates(log.memberStates(headers));
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
    lastResult = result;
    List<HeadTracker.VouchedHead> fresh = HostProber.vouchedHeads(result);
    if (log != null) {
      List<RecordHeader> headers = new ArrayList<>();
      fresh.forEach(v -> headers.add(v.head().header()));
      log.fetchBelow(client, headers);
      log.checkHeads(client, headers);
    }
    return new HostProber(client, metadata).advance(tracker, fresh);
  }

  /**
   * The members as of the capsule's newest heads: refreshes them ({@link #refreshHeads}), then resolves
   * the verified membership records at or below them.
   *
   * @throws IllegalStateException for a version-1 capsule, whose writers are fixed in its metadata
   */
  public CapsuleMembers members() throws RenterException {
    MemberLog held = log;
    if (held == null) {
      throw new IllegalStateException("capsule " + capsuleId() + " has version-1 metadata: its writers are fixed");
    }
    refreshHeads();
    List<RecordHeader> heads = new ArrayList<>();
    tracker.heads().forEach(v -> heads.add(v.head().header()));
    return CapsuleWriter.membersOf(capsuleId(), held, heads);
  }

  /** The verified membership records this reader holds (what a renter saves); empty for version 1. */
  public List<RecordWithBody> membershipRecords() {
    return log == null ? List.of() : log.records();
  }

  /**
   * Restores membership records saved earlier, each checked again.
   *
   * @throws IllegalArgumentException naming a record that fails the check
   */
  public void restoreMembershipRecords(Collection<RecordWithBody> saved) {
    if (log != null) {
      saved.forEach(log::add);
    }
  }
}
