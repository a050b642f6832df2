package dev.capsulevm.host.replication;

import com.google.protobuf.ByteString;
import dev.capsulevm.host.sync.Reconciler;
import dev.capsulevm.host.sync.SyncCodec;
import dev.capsulevm.host.sync.SyncLimits;
import dev.capsulevm.host.sync.SyncMessage;
import dev.capsulevm.host.sync.SyncProtocolException;
import dev.capsulevm.host.sync.SyncRecord;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proto.v1.SyncFrame;
import dev.capsulevm.vm.storage.StorageException;
import io.grpc.Status;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * One side of a session over a {@link FrameChannel}: turns as {@link SyncCodec} lays them out, the
 * records' bytes beside them ({@link RecordStream}), and the pacing of the responder's coded symbols.
 *
 * <p>Pacing, which both sides count the same way: the responder answers every turn of the initiator with
 * exactly one turn; when its answer carries coded symbols it sends one more turn right after it (the next
 * run, or an empty turn once it has no more to stream), so one run is always in flight. The initiator
 * asks for the next run with an empty turn. When the initiator sends a turn that is not empty, the runs
 * still in flight answer nothing it asked: it counts them and skips them, as the responder will.
 */
public final class SyncSession {
  /** Bounds on one session's transport. */
  public record Limits(Duration frameTimeout, Duration maxDuration, int chunkBytes, int maxRecordBytes,
      long maxReceivedBytes, int maxTurns, SyncLimits turnLimits) {
    /** Turns of up to 256 MiB: a new replica's first session lists every record of the capsule in one. */
    public static final Limits DEFAULT = new Limits(Duration.ofSeconds(60), Duration.ofHours(2), 1 << 20, 64 << 20,
        64L << 30, 1 << 20,
        new SyncLimits(256 << 20, 16, 1024, 1 << 20, 1 << 22, 1 << 22, 1L << 29, 6));
  }

  /** What a session has done so far (bytes both ways include records; counts are records). */
  public record Progress(String phase, long bytesSent, long bytesReceived, long recordsReceived, long recordsSent,
      long recordsStored, int roundTrips, Reconciler.Outcome outcome) {}

  private final FrameChannel channel;
  private final SessionReplica replica;
  private final Reconciler reconciler;
  private final Limits limits;
  private final Consumer<Progress> progress;
  private int roundTrips;
  private int turns;
  private String phase = "quick check";
  private boolean diverged;
  private final long started = System.nanoTime();

  SyncSession(FrameChannel channel, SessionReplica replica, Reconciler reconciler, Limits limits,
      Consumer<Progress> progress) {
    this.channel = channel;
    this.replica = replica;
    this.reconciler = reconciler;
    this.limits = limits;
    this.progress = progress;
  }

  /**
   * Runs the initiator's side to its outcome. {@code first} may add fields to the first frame (the
   * metadata request); {@code onFirstAnswer} sees the responder's first frame before its turn is applied.
   */
  Progress initiate(SyncFrame.Builder first, FirstFrameHook onFirstAnswer) throws SyncFailure {
    List<SyncMessage> opening = reconciler.start();
    sendTurn(opening, first);
    int outstanding = 1;
    int stale = 0;
    boolean awaitingAnswer = true;
    boolean firstFrame = true;
    while (!reconciler.finished()) {
      SyncFrame frame = channel.take(limits.frameTimeout());
      if (frame == null) {
        throw SyncFailure.of(Status.Code.UNAVAILABLE, "the responder ended the session before its outcome");
      }
      if (firstFrame) {
        onFirstAnswer.accept(frame);
        firstFrame = false;
      }
      List<SyncMessage> in = readTurn(frame);
      outstanding--;
      if (stale > 0) {
        stale--;
        continue;
      }
      if (awaitingAnswer && hasSymbols(in)) {
        outstanding++; // the run the responder sends ahead
      }
      awaitingAnswer = false;
      List<SyncMessage> reply = apply(in);
      if (reconciler.finished()) {
        break;
      }
      if (!reply.isEmpty()) {
        stale = outstanding;
        awaitingAnswer = true;
        roundTrips++;
      }
      sendTurn(reply, SyncFrame.newBuilder());
      outstanding++;
    }
    channel.complete();
    phase = "done";
    if (replica.staged() > 0 && reconciler.outcome() != Reconciler.Outcome.DIVERGED) {
      // the sets matched only counting records that cannot be stored: the peer holds orphans
      diverged = true;
    }
    return report();
  }

  /** Runs the responder's side from the initiator's first frame until the initiator ends the stream. */
  void respond(SyncFrame first, SyncFrame.Builder firstReply) throws SyncFailure {
    SyncFrame.Builder extra = firstReply;
    SyncFrame frame = first;
    int endsSent = 0; // empty runs sent since the stream ended
    while (frame != null) {
      List<SyncMessage> in = readTurn(frame);
      if (in.isEmpty()) {
        // One empty turn may cross the first "ended" in flight (the initiator answered the run before
        // it); one after the second only keeps a session slot busy.
        if (endsSent >= 2) {
          throw SyncFailure.misbehaviour("asked for coded symbols after the stream ended", null);
        }
        List<SyncMessage> run = nextRun();
        endsSent += run.isEmpty() ? 1 : 0;
        sendTurn(run, extra);
      } else {
        List<SyncMessage> reply = apply(in);
        sendTurn(reply, extra);
        endsSent = 0;
        if (hasSymbols(reply)) {
          List<SyncMessage> run = nextRun();
          endsSent += run.isEmpty() ? 1 : 0;
          sendTurn(run, SyncFrame.newBuilder());
        }
      }
      extra = SyncFrame.newBuilder();
      frame = channel.take(limits.frameTimeout());
    }
    channel.complete();
  }

  /** Sees the responder's first frame (its metadata) before the session goes on. */
  @FunctionalInterface
  interface FirstFrameHook {
    void accept(SyncFrame frame) throws SyncFailure;
  }

  private List<SyncMessage> nextRun() {
    SyncMessage.Symbols run = reconciler.streaming() ? reconciler.nextBatch() : null;
    return run == null ? List.of() : List.of(run);
  }

  /** Hands a received turn to the reconciler, then stores what became complete. */
  private List<SyncMessage> apply(List<SyncMessage> in) throws SyncFailure {
    List<SyncMessage> reply;
    try {
      reply = reconciler.receive(in);
    } catch (SyncProtocolException e) {
      throw SyncFailure.misbehaviour("protocol violation: " + e.getMessage(), e);
    }
    flush();
    phase = phaseOf(in, reply);
    progress.accept(report());
    return reply;
  }

  private void flush() throws SyncFailure {
    try {
      replica.flush();
    } catch (InvalidPeerRecordException e) {
      throw SyncFailure.misbehaviour("invalid record " + e.record() + ": " + e.getMessage(), e);
    } catch (StorageException e) {
      throw new SyncFailure(Status.Code.INTERNAL, false, "could not store received records: " + e.getMessage(), e);
    }
  }

  /** Reads one turn: its bytes, then its records, from this frame and the continuation frames. */
  private List<SyncMessage> readTurn(SyncFrame frame) throws SyncFailure {
    if (++turns > limits.maxTurns()) {
      throw SyncFailure.misbehaviour("more than " + limits.maxTurns() + " turns in one session", null);
    }
    if (System.nanoTime() - started > limits.maxDuration().toNanos()) {
      throw SyncFailure.of(Status.Code.DEADLINE_EXCEEDED, "the session ran longer than " + limits.maxDuration()
          + "; the next one resumes");
    }
    int total = frame.getTurnBytes();
    if (total < 1 || total > limits.turnLimits().maxTurnBytes()) {
      throw SyncFailure.misbehaviour("a turn of " + Integer.toUnsignedString(total) + " bytes (1 to "
          + limits.turnLimits().maxTurnBytes() + ")", null);
    }
    // grown as bytes arrive, not allocated at the announced length: announcing costs a liar nothing
    java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream(Math.min(total, limits.chunkBytes()));
    int filled = 0;
    List<SyncMessage> turn = null;
    ArrayDeque<SyncRecord> entries = new ArrayDeque<>();
    RecordStream.Decoder decoder = new RecordStream.Decoder(limits.maxRecordBytes());
    SyncFrame piece = frame;
    while (true) {
      if (channel.bytesReceived() > limits.maxReceivedBytes()) {
        throw SyncFailure.of(Status.Code.RESOURCE_EXHAUSTED,
            "the session received more than " + limits.maxReceivedBytes() + " bytes");
      }
      if (piece.getTurn().size() > total - filled) {
        throw SyncFailure.misbehaviour("a turn longer than the " + total + " bytes it announced", null);
      }
      bytes.writeBytes(piece.getTurn().toByteArray());
      filled += piece.getTurn().size();
      if (turn == null && filled == total) {
        turn = decode(bytes.toByteArray());
        for (SyncMessage m : turn) {
          if (m instanceof SyncMessage.Records r) {
            entries.addAll(r.records());
          }
        }
      }
      if (!piece.getRecords().isEmpty()) {
        if (turn == null) {
          throw SyncFailure.misbehaviour("records before the turn's bytes were complete", null);
        }
        receiveRecords(decoder, piece, entries);
        phase = "records";
        progress.accept(report()); // a long turn of records shows its progress frame by frame
      }
      if (!piece.getMore()) {
        break;
      }
      piece = channel.take(limits.frameTimeout());
      if (piece == null || piece.getTurnBytes() != 0) {
        throw SyncFailure.misbehaviour("a turn was cut off", null);
      }
    }
    if (turn == null) {
      throw SyncFailure.misbehaviour("a turn ended after " + filled + " of its " + total + " bytes", null);
    }
    if (!entries.isEmpty() || !decoder.atBoundary()) {
      throw SyncFailure.misbehaviour(entries.size() + " of the turn's records never came", null);
    }
    return turn;
  }

  private List<SyncMessage> decode(byte[] bytes) throws SyncFailure {
    try {
      return SyncCodec.decodeTurn(bytes, limits.turnLimits());
    } catch (SyncProtocolException e) {
      throw SyncFailure.misbehaviour("malformed turn: " + e.getMessage(), e);
    }
  }

  private void receiveRecords(RecordStream.Decoder decoder, SyncFrame piece, ArrayDeque<SyncRecord> entries)
      throws SyncFailure {
    List<RecordWithBody> records;
    try {
      records = decoder.feed(piece.getRecords());
    } catch (VerificationException e) {
      throw SyncFailure.misbehaviour("malformed record stream: " + e.getMessage(), e);
    }
    for (RecordWithBody record : records) {
      SyncRecord entry = entries.poll();
      if (entry == null) {
        throw SyncFailure.misbehaviour("more records than the turn's entries", null);
      }
      if (!record.hash().equals(entry.id()) || !record.record().header().parents().equals(entry.parents())) {
        throw SyncFailure.misbehaviour("record " + record.hash() + " does not match its entry " + entry.id(), null);
      }
      offer(record);
    }
  }

  private void offer(RecordWithBody record) throws SyncFailure {
    try {
      replica.offer(record);
    } catch (InvalidPeerRecordException e) {
      throw SyncFailure.misbehaviour("invalid record " + e.record() + ": " + e.getMessage(), e);
    } catch (StagingFullException e) {
      throw SyncFailure.of(Status.Code.RESOURCE_EXHAUSTED, e.getMessage());
    } catch (StorageException e) {
      throw new SyncFailure(Status.Code.INTERNAL, false, "could not store received records: " + e.getMessage(), e);
    }
  }

  /** Sends a turn: its bytes, then its records' bytes, in frames of at most a chunk. */
  private void sendTurn(List<SyncMessage> turn, SyncFrame.Builder first) throws SyncFailure {
    byte[] bytes = SyncCodec.encodeTurn(turn);
    FrameWriter writer = new FrameWriter(first.setTurnBytes(bytes.length));
    writer.turn(bytes);
    for (SyncMessage m : turn) {
      if (m instanceof SyncMessage.Records r) {
        for (SyncRecord entry : r.records()) {
          RecordWithBody record = replica.recordOrNull(entry.id());
          if (record == null) {
            throw SyncFailure.of(Status.Code.INTERNAL, "record " + entry.id() + " vanished while sending it");
          }
          writer.records(RecordStream.entry(record));
        }
      }
    }
    writer.finish();
  }

  /** Fills frames up to a chunk, sending each full one with {@code more} set. */
  private final class FrameWriter {
    private SyncFrame.Builder frame;
    private final ByteString.Output turnPiece = ByteString.newOutput();
    private final ByteString.Output recordsPiece = ByteString.newOutput();

    FrameWriter(SyncFrame.Builder first) {
      frame = first;
    }

    void turn(byte[] bytes) throws SyncFailure {
      write(bytes, turnPiece);
    }

    void records(byte[] bytes) throws SyncFailure {
      write(bytes, recordsPiece);
    }

    private void write(byte[] bytes, ByteString.Output into) throws SyncFailure {
      int at = 0;
      while (at < bytes.length) {
        int room = limits.chunkBytes() - turnPiece.size() - recordsPiece.size();
        if (room == 0) {
          send(true);
          continue;
        }
        int n = Math.min(room, bytes.length - at);
        into.write(bytes, at, n);
        at += n;
      }
    }

    void finish() throws SyncFailure {
      send(false);
    }

    private void send(boolean more) throws SyncFailure {
      SyncFrame built = frame.setTurn(turnPiece.toByteString()).setRecords(recordsPiece.toByteString())
          .setMore(more).build();
      turnPiece.reset();
      recordsPiece.reset();
      frame = SyncFrame.newBuilder();
      channel.send(built, limits.frameTimeout());
    }
  }

  private static boolean hasSymbols(List<SyncMessage> turn) {
    for (SyncMessage m : turn) {
      if (m instanceof SyncMessage.Symbols) {
        return true;
      }
    }
    return false;
  }

  private static String phaseOf(List<SyncMessage> in, List<SyncMessage> out) {
    String phase = "quick check";
    for (List<SyncMessage> turn : List.of(in, out)) {
      for (SyncMessage m : turn) {
        if (m instanceof SyncMessage.Symbols) {
          phase = "symbols";
        } else if (m instanceof SyncMessage.Bloom || m instanceof SyncMessage.WantIds) {
          phase = "bloom";
        } else if (m instanceof SyncMessage.Records || m instanceof SyncMessage.WantChecksums) {
          phase = "records";
        }
      }
    }
    return phase;
  }

  Progress report() {
    return new Progress(phase, channel.bytesSent(), channel.bytesReceived(), reconciler.recordsReceived(),
        reconciler.recordsSent(), replica.committed(), roundTrips + 1,
        diverged ? Reconciler.Outcome.DIVERGED : reconciler.outcome());
  }

  Hash capsule() {
    return replica.root();
  }
}
