package dev.capsulevm.renter;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import dev.capsulevm.renter.access.EncryptionKey;
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
 *
 * <p>In a private (version-3) capsule the payloads are ciphertexts: {@link #plaintext} decrypts a verified
 * read with the epoch's secret, which a member finds with its X25519 key (the one on its member card) in
 * its own keystore entries or through previous links from an epoch it holds; {@link #read} does both.
 */
public final class CapsuleReader {
  private final HostClient client;
  private final SignedMetadata metadata;
  private final HeadTracker tracker;
  private final @Nullable MemberLog log;
  private final @Nullable EpochKeyring keyring;
  private @Nullable ProgramResult lastResult;

  private CapsuleReader(HostClient client, SignedMetadata metadata, HeadTracker tracker,
      @Nullable EncryptionKey encryptionKeyOrNull) {
    this.client = client;
    this.metadata = metadata;
    this.tracker = tracker;
    this.log = MemberLog.forCapsule(metadata);
    this.keyring = metadata.isPrivate()
        ? new EpochKeyring(metadata.capsuleId(), encryptionKeyOrNull, List.of(client.account())) : null;
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
    return open(client, capsuleId, metadataOrNull, tracked, null);
  }

  /**
   * A reader of {@code capsuleId} that, in a private capsule, decrypts with {@code encryptionKeyOrNull}: the
   * X25519 key of the member card of the client's account key (the identity it was added under).
   *
   * @see #open(HostClient, Hash, SignedMetadata, Collection)
   */
  public static CapsuleReader open(HostClient client, Hash capsuleId, @Nullable SignedMetadata metadataOrNull,
      Collection<HeadTracker.VouchedHead> tracked, @Nullable EncryptionKey encryptionKeyOrNull)
      throws RenterException {
    Objects.requireNonNull(client, "client");
    SignedMetadata metadata = metadataOrNull != null ? metadataOrNull : client.metadata(capsuleId);
    if (!metadata.capsuleId().equals(capsuleId)) {
      throw new IllegalArgumentException("metadata of capsule " + metadata.capsuleId() + " given for " + capsuleId);
    }
    return new CapsuleReader(client, metadata, new HeadTracker(capsuleId, tracked), encryptionKeyOrNull);
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

  /** Whether the capsule is private (version-3 metadata): its data sub-records are ciphertexts. */
  public boolean isPrivate() {
    return metadata.isPrivate();
  }

  /**
   * The plaintext of a verified {@code ReadSubRecord} output of this capsule (a program built with
   * {@link #newProgram}): in a private capsule the payload, verified first, is decrypted with the epoch's
   * secret, found through this reader's keystore entries or previous links (the membership records below
   * the tracked heads are fetched when missing, and the heads refreshed once when that is not enough); in any
   * other capsule it is the payload.
   *
   * @throws MissingEpochKeyException when this reader holds no key for the record's epoch (written before it
   *     was given read, or after its read was taken away)
   * @throws DecryptionFailedException when a key that should open it does not (a wrong key, a changed wrap
   *     or ciphertext): never garbage plaintext
   * @throws SubRecordDroppedException when the payload was dropped under the retention policy
   */
  public byte[] plaintext(VerifiedOutput read) throws RenterException {
    EpochKeyring held = keyring;
    MemberLog members = log;
    if (held == null || members == null) {
      return read.payload();
    }
    List<RecordHeader> heads = new ArrayList<>();
    tracker.heads().forEach(v -> heads.add(v.head().header()));
    members.fetchBelow(client, heads);
    try {
      return held.plaintext(read, members.keystores());
    } catch (MissingEpochKeyException e) {
      // The wrap that reaches this reader may lie above the heads it tracks.
      refreshHeads();
      return held.plaintext(read, members.keystores());
    }
  }

  /**
   * Reads sub-record {@code index} of record {@code record}, proven from the highest tracked head (the heads
   * refreshed first when none is tracked, or when the record is not below them), and returns its
   * {@linkplain #plaintext plaintext}.
   */
  public byte[] read(Hash record, long index) throws RenterException {
    if (highestHead() == null) {
      refreshHeads();
    }
    for (boolean refreshed = false; ; refreshed = true) {
      RecordHeader anchor = highestHead();
      if (anchor == null) {
        throw new RenterException("capsule " + capsuleId() + " has no records yet");
      }
      ProgramBuilder builder = newProgram();
      builder.readSubRecord(record, index, anchor);
      try {
        return plaintext(client.run(builder.build()).output(0));
      } catch (ProgramFailedException e) {
        // The record may lie above the tracked heads: refresh them and try once more.
        if (refreshed || e.reason() != ProgramFailedException.Reason.NOT_FOUND) {
          throw e;
        }
        refreshHeads();
      }
    }
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
