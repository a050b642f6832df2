package dev.capsulevm.host.sync;

import dev.capsulevm.proofs.Hash;
import java.security.SecureRandom;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * One side of a reconciliation session between two replicas of a capsule. Both sides run this class;
 * the initiator opens with {@link #start()}, then each side answers every turn it receives with
 * {@link #receive}; the responder may also stream coded symbols without waiting ({@link #nextBatch}).
 *
 * <ol>
 *   <li>Quick check: the hello and its reply carry count, set fingerprint and heads; equal replicas are
 *       done in one round trip.
 *   <li>Default ({@link Config#DEFAULT}, the compact form): the responder streams rateless IBLT
 *       symbols over its records' keyed 64-bit hashes, the initiator subtracts its own and peels; once
 *       decoded it sends the records only it holds and asks for the rest by their keyed hashes; the
 *       final Done checks the result. Between hosts that share a pair secret (their key exchange) this
 *       is mode 3: the key is their pair key ({@link SessionKey#forPair}), the same in every session, so
 *       each side copies the symbols its replica keeps ({@link SyncDag#codedSnapshot}) instead of
 *       encoding every record; without one it is mode 2, under a key of the session. The full form ({@link Config#FULL_IDS}, mode 0) codes the ids
 *       themselves at three times the bytes and checks the decoded ids against the responder's
 *       fingerprint before asking.
 *   <li>Baseline and fallback: each side sends a Bloom filter of its records; each sends the records the
 *       other's filter surely lacks; both then walk from the peer's heads and from received records'
 *       parents, asking by id for what they still lack (false positives).
 *   <li>The initiator ends when the responder's last fingerprint equals its own; otherwise it starts a
 *       repair round (a Bloom round under a fresh key), up to {@link SyncLimits#maxRepairRounds()}.
 * </ol>
 *
 * <p>Every state change is adding a record, so a session cut off anywhere leaves both replicas valid
 * and the next session starts from where this one stopped.
 */
public final class Reconciler {
  public enum Role { INITIATOR, RESPONDER }

  public enum Outcome { RUNNING, EQUAL, CONVERGED, DIVERGED }

  /** Tuning: mode, Bloom false-positive rate, first and minimum symbol run, run growth, limits. */
  public record Config(int mode, double bloomFalsePositiveRate, int minBatch, double batchGrowth,
      SyncLimits limits) {
    /**
     * The compact rateless IBLT: coded symbols over keyed 64-bit hashes, about 13.5 bytes each; mode 3
     * when the reconciler has a pair secret, mode 2 otherwise. It is the default because at a third of
     * the full form's bytes per symbol it stays under the Bloom filters' cost up to large differences,
     * so sessions end in two round trips instead of falling back.
     */
    public static final Config DEFAULT = new Config(SyncMessage.MODE_RIBLT_COMPACT, 0.01, 8, 0.05,
        SyncLimits.DEFAULT);
    /** The same as {@link #DEFAULT}, under the name of its form. */
    public static final Config COMPACT = DEFAULT;
    /**
     * The rateless IBLT over the 32-byte ids themselves (mode 0): symbols of about 41.5 bytes, for a peer
     * that wants the ids decoded (and checked against the fingerprint) before it asks for anything.
     */
    public static final Config FULL_IDS = new Config(SyncMessage.MODE_RIBLT, 0.01, 8, 0.05, SyncLimits.DEFAULT);
    public static final Config BASELINE = new Config(SyncMessage.MODE_BLOOM, 0.01, 8, 0.05, SyncLimits.DEFAULT);

    public Config withMode(int m) {
      return new Config(m, bloomFalsePositiveRate, minBatch, batchGrowth, limits);
    }
  }

  /** Bytes a coded symbol costs on the wire, about (sum, checksum, a 1-2 byte count). */
  static final double SYMBOL_BYTES = 41.5;
  static final double COMPACT_SYMBOL_BYTES = 13.5;
  /**
   * How much more than the two Bloom filters the symbols may cost before the Bloom path is preferred:
   * the Bloom path also pays for the walk, repair rounds and at least one more round trip.
   */
  static final double BLOOM_PREFERENCE = 1.5;
  /**
   * Symbols received before the residual counts' estimate is trusted: by then its relative spread is
   * about 9 %, so it overshoots a difference by the 45 % that would wrongly send a large one to Bloom
   * filters in well under one session in 10,000.
   */
  static final int ESTIMATE_AFTER = 256;
  /** Coded symbols per differing record expected for decoding, with a margin for small differences. */
  static final double SYMBOLS_PER_DIFFERENCE = 1.45;

  private final SyncDag dag;
  private final Role role;
  private final Config config;
  private final Random random;
  /** The secret this host shares with the peer (their key exchange), or null: no standing key. */
  private final byte @Nullable [] pairSecret;
  /** The mode of this session: the initiator's choice, as its Hello says. */
  private int mode;

  // known once the summaries are exchanged (the initiator knows its own nonce from the start)
  private byte @Nullable [] initiatorNonce;
  private byte @Nullable [] responderNonce;
  private SyncMessage.@Nullable Summary peerSummary;
  private boolean started;
  private Outcome outcome = Outcome.RUNNING;
  private int turnsReceived;

  // rateless IBLT
  private @Nullable SessionKey ribltKey;
  /** The responder's, once it streams. */
  private Riblt.@Nullable Source encoder;
  /** The record count the responder announced with its symbols: their counts travel relative to it. */
  private long announcedCount;
  /** Whether this side's symbols came from a kept {@link CodedSet}, and whether they went past its prefix. */
  private boolean keptSymbols;
  private Riblt.@Nullable MaintainedEncoder maintained;
  /** The initiator's, from the first coded symbols; {@code digestAtDecoder} is its own digest then. */
  private Riblt.@Nullable Decoder decoder;
  private @Nullable SetDigest digestAtDecoder;
  private boolean streaming;
  private long streamBudget;
  private long symbolsReceived;
  private boolean fellBack;
  private boolean compact;

  // Bloom and walk
  private boolean bloomActive;
  private int bloomRound = -1;
  private final Set<Integer> bloomsSent = new HashSet<>();
  private int repairs;
  private final Set<Hash> wanted = new HashSet<>();
  private final Set<Hash> peerHas = new HashSet<>();
  private SyncMessage.@Nullable Done peerDone;
  private List<Hash> peerHeads = List.of();
  private boolean headsSent;

  private long recordsReceived;
  private long recordsSent;

  public Reconciler(SyncDag dag, Role role, Config config) {
    this(dag, role, config, new SecureRandom());
  }

  public Reconciler(SyncDag dag, Role role, Config config, Random random) {
    this(dag, role, config, random, null);
  }

  /**
   * A side that shares {@code pairSecret} ({@link SessionKey#PAIR_SECRET_BYTES} bytes) with its peer, or
   * none (null): with one, the compact form runs as mode 3, under the pair's standing key
   * ({@link SessionKey#forPair}), and takes its own symbols from the replica's kept {@link CodedSet}
   * when it has one under that key.
   */
  public Reconciler(SyncDag dag, Role role, Config config, byte @Nullable [] pairSecret) {
    this(dag, role, config, new SecureRandom(), pairSecret);
  }

  public Reconciler(SyncDag dag, Role role, Config config, Random random, byte @Nullable [] pairSecret) {
    this.dag = Objects.requireNonNull(dag, "dag");
    this.role = Objects.requireNonNull(role, "role");
    this.config = Objects.requireNonNull(config, "config");
    this.random = Objects.requireNonNull(random, "random");
    if (pairSecret != null && pairSecret.length != SessionKey.PAIR_SECRET_BYTES) {
      throw new IllegalArgumentException("a pair secret is " + SessionKey.PAIR_SECRET_BYTES + " bytes, got "
          + pairSecret.length);
    }
    this.pairSecret = pairSecret == null ? null : pairSecret.clone();
    this.mode = config.mode() == SyncMessage.MODE_RIBLT_COMPACT && pairSecret != null
        ? SyncMessage.MODE_RIBLT_PAIRED : config.mode();
  }

  /** The initiator's first turn. */
  public List<SyncMessage> start() {
    if (role != Role.INITIATOR || started) {
      throw new IllegalStateException("only an initiator starts, once");
    }
    started = true;
    initiatorNonce = nonce();
    headsSent = mode == SyncMessage.MODE_BLOOM;
    return List.of(new SyncMessage.Hello(dag.root(), initiatorNonce, mode, summary(headsSent)));
  }

  public boolean finished() {
    return outcome != Outcome.RUNNING;
  }

  public Outcome outcome() {
    return outcome;
  }

  /** Whether the responder is streaming coded symbols (the initiator has not answered yet). */
  public boolean streaming() {
    return streaming;
  }

  public boolean fellBack() {
    return fellBack;
  }

  public long recordsReceived() {
    return recordsReceived;
  }

  public long recordsSent() {
    return recordsSent;
  }

  public long symbolsReceived() {
    return symbolsReceived;
  }

  public int repairRounds() {
    return repairs;
  }

  /** The session's mode (the initiator's choice): 0 to 3, {@link SyncMessage}'s {@code MODE_} values. */
  public int mode() {
    return mode;
  }

  /** Whether this side's coded symbols came from its replica's kept {@link CodedSet} (mode 3). */
  public boolean usedKeptSymbols() {
    return keptSymbols;
  }

  /** Whether this side, with kept symbols, had to encode past their prefix (a large difference). */
  public boolean extendedKeptSymbols() {
    return maintained != null && maintained.extended();
  }

  /** The responder's next run of coded symbols while streaming, or null. */
  public SyncMessage.@Nullable Symbols nextBatch() {
    if (!streaming) {
      return null;
    }
    Riblt.Source stream = Objects.requireNonNull(encoder, "a responder streams from its encoder");
    long produced = stream.produced();
    if (produced >= streamBudget) {
      streaming = false;
      return null;
    }
    long size = Math.max(config.minBatch(), (long) Math.ceil(produced * config.batchGrowth()));
    size = Math.min(size, Math.min(streamBudget - produced, config.limits().maxBatchSymbols()));
    return toWire(stream.produce((int) size), announcedCount);
  }

  /** Handles the peer's turn and returns this side's answer (possibly empty). */
  public List<SyncMessage> receive(List<SyncMessage> turn) {
    if (finished()) {
      return List.of();
    }
    turnsReceived++;
    peerDone = null;
    if (role == Role.RESPONDER) {
      streaming = false;
    }
    Set<Hash> send = new LinkedHashSet<>();
    List<SyncMessage> reply = new ArrayList<>();
    List<SyncRecord> received = new ArrayList<>();
    int bloomToSend = -1;
    long[] checksumsToWant = null;
    boolean startStream = false;
    for (int i = 0; i < turn.size(); i++) {
      SyncMessage m = turn.get(i);
      if (m instanceof SyncMessage.Hello h) {
        if (role != Role.RESPONDER || turnsReceived != 1 || i != 0) {
          throw new SyncProtocolException("unexpected hello");
        }
        if (!h.capsule().equals(dag.root())) {
          throw new SyncProtocolException("hello for capsule " + h.capsule() + ", this replica holds "
              + dag.root());
        }
        if (h.mode() == SyncMessage.MODE_RIBLT_PAIRED && pairSecret == null) {
          throw new SyncProtocolException("mode 3 needs the standing key of a key exchange, and this session had none");
        }
        mode = h.mode();
        initiatorNonce = h.nonce().clone();
        responderNonce = nonce();
        peerSummary = h.summary();
        peerHeads = peerSummary.heads();
        deriveKeys();
        SyncMessage.Summary mine = summary(false);
        if (sameState(mine, peerSummary)) {
          reply.add(new SyncMessage.SummaryReply(responderNonce, mine));
          continue;
        }
        long lower = Math.abs(peerSummary.count() - mine.count());
        compact = isCompact(mode);
        boolean riblt = mode != SyncMessage.MODE_BLOOM
            && ribltCost((double) lower) <= BLOOM_PREFERENCE * bloomCost();
        headsSent = !riblt;
        if (riblt) {
          streamBudget = symbolBudget();
          Source stream = source((int) streamBudget);
          encoder = stream.source;
          // the summary describes the set the symbols encode, which kept symbols fix at their snapshot
          SetDigest coded = stream.digest;
          announcedCount = coded.count();
          reply.add(new SyncMessage.SummaryReply(responderNonce,
              new SyncMessage.Summary(coded.count(), coded.fingerprint(), List.of())));
          long first = Math.max(config.minBatch(), (long) Math.ceil(1.3 * lower));
          startStream = true;
          reply.add(toWire(stream.source.produce((int) Math.min(first, Math.min(streamBudget,
              config.limits().maxBatchSymbols()))), announcedCount));
        } else {
          reply.add(new SyncMessage.SummaryReply(responderNonce, summary(headsSent)));
          bloomToSend = 0;
          bloomActive = true;
        }
      } else if (m instanceof SyncMessage.SummaryReply s) {
        if (role != Role.INITIATOR || turnsReceived != 1 || i != 0) {
          throw new SyncProtocolException("unexpected summary");
        }
        responderNonce = s.nonce().clone();
        compact = isCompact(mode);
        peerSummary = s.summary();
        deriveKeys();
      } else if (m instanceof SyncMessage.Symbols s) {
        if (role != Role.INITIATOR || peerSummary == null) {
          throw new SyncProtocolException("unexpected coded symbols");
        }
        if (fellBack || bloomActive || (decoder != null && decoder.isDecoded())) {
          continue; // in flight when we stopped the stream
        }
        if (decoder == null) {
          Source own = source((int) symbolBudget());
          digestAtDecoder = own.digest;
          decoder = new Riblt.Decoder(ribltKey(), own.source, dag);
        }
        if (s.first() != decoder.symbols()) {
          throw new SyncProtocolException("expected symbol " + decoder.symbols() + ", got " + s.first());
        }
        symbolsReceived += s.size();
        if (symbolsReceived > symbolBudget()) {
          throw new SyncProtocolException("more coded symbols than the budget");
        }
        if (s.width() != (compact ? 1 : 4)) {
          throw new SyncProtocolException("symbols of the wrong form");
        }
        if (decoder.add(fromWire(s, peerSummary.count()))) {
          // the full form is checked against the responder's fingerprint now, the compact one by Done
          if (compact || sameSet(decoder.senderDigest(
              Objects.requireNonNull(digestAtDecoder, "taken with the decoder")), peerSummary)) {
            send.addAll(decoder.receiverOnlyIds());
            checksumsToWant = decoder.senderOnlyChecksums();
          } else {
            bloomToSend = fallBack();
          }
        } else if (shouldFallBack(decoder)) {
          bloomToSend = fallBack();
        }
      } else if (m instanceof SyncMessage.Bloom b) {
        if (peerSummary == null || b.round() > bloomRound + 1 || b.round() > config.limits().maxRepairRounds()) {
          throw new SyncProtocolException("unexpected Bloom filter of round " + b.round());
        }
        bloomActive = true;
        bloomRound = Math.max(bloomRound, b.round());
        BloomFilter filter = new BloomFilter(bloomKey(b.round()), b.probes(), b.bits(), b.data());
        long[] ids = new long[64];
        int[] found = {0};
        long[][] holder = {ids};
        dag.forEachIdLimbs((l0, l1, l2, l3) -> {
          if (!filter.mightContain(l0, l1, l2, l3)) {
            int k = found[0]++;
            if (holder[0].length < 4 * k + 4) {
              holder[0] = java.util.Arrays.copyOf(holder[0], holder[0].length * 2);
            }
            holder[0][4 * k] = l0;
            holder[0][4 * k + 1] = l1;
            holder[0][4 * k + 2] = l2;
            holder[0][4 * k + 3] = l3;
          }
        });
        for (int k = 0; k < found[0]; k++) {
          Hash id = Riblt.toHash(holder[0], 4 * k);
          if (!peerHas.contains(id)) {
            send.add(id);
          }
        }
        if (!bloomsSent.contains(b.round())) {
          bloomToSend = b.round();
        }
      } else if (m instanceof SyncMessage.Records r) {
        if (peerSummary == null) {
          throw new SyncProtocolException("records before the summaries");
        }
        for (SyncRecord rec : r.records()) {
          peerHas.add(rec.id());
          wanted.remove(rec.id());
          if (dag.add(rec)) {
            recordsReceived++;
            received.add(rec);
          }
        }
      } else if (m instanceof SyncMessage.WantIds w) {
        for (Hash id : w.ids()) {
          if (dag.contains(id)) {
            send.add(id);
          }
        }
      } else if (m instanceof SyncMessage.WantChecksums w) {
        if (role != Role.RESPONDER || encoder == null) {
          throw new SyncProtocolException("checksums without coded symbols");
        }
        send.addAll(encoder.idsWithChecksums(w.checksums()));
      } else if (m instanceof SyncMessage.Heads h) {
        peerHeads = h.heads();
      } else if (m instanceof SyncMessage.Done d) {
        peerDone = d;
      }
  }
    streaming = startStream;
    if (bloomToSend >= 0) {
      bloomActive = true;
      bloomRound = Math.max(bloomRound, bloomToSend);
    }
    // the walk: the peer's heads and the parents of what arrived, where we lack them
    List<Hash> wants = new ArrayList<>();
    if (bloomActive && peerSummary != null) {
      for (Hash head : peerHeads) {
        addWant(head, wants);
      }
      for (SyncRecord rec : received) {
        for (Hash p : rec.parents()) {
          addWant(p, wants);
        }
      }
    }
    if (!send.isEmpty()) {
      List<SyncRecord> records = ordered(send);
      recordsSent += records.size();
      for (SyncRecord rec : records) {
        peerHas.add(rec.id());
      }
      reply.add(new SyncMessage.Records(records));
    }
    if (bloomToSend >= 0) {
      bloomsSent.add(bloomToSend);
      BloomFilter f = BloomFilter.of(bloomKey(bloomToSend), dag, config.bloomFalsePositiveRate());
      reply.add(new SyncMessage.Bloom(bloomToSend, f.probes(), f.bits(), f.data()));
      addHeads(reply);
    }
    if (!wants.isEmpty()) {
      wants.sort(null);
      reply.add(new SyncMessage.WantIds(wants));
    }
    if (checksumsToWant != null && checksumsToWant.length > 0) {
      reply.add(new SyncMessage.WantChecksums(checksumsToWant));
    }
    if (role == Role.RESPONDER) {
      if (wants.isEmpty() && !streaming) {
        SetDigest d = dag.digest();
        reply.add(new SyncMessage.Done(d.count(), d.fingerprint()));
      }
      return reply;
    }
    // initiator
    if (peerSummary == null) {
      // the responder's first turn starts with its summary (see SummaryReply above)
      throw new SyncProtocolException("a turn without the responder's summary");
    }
    if (!reply.isEmpty()) {
      return reply;
    }
    SetDigest mine = dag.digest();
    if (peerDone != null && peerDone.count() == mine.count() && peerDone.fingerprint().equals(mine.fingerprint())) {
      outcome = turnsReceived == 1 ? Outcome.EQUAL : Outcome.CONVERGED;
      return reply;
    }
    if (decoder != null && !decoder.isDecoded() && !bloomActive && !turn.isEmpty()) {
      return reply; // the stream continues
    }
    if (decoder != null && !decoder.isDecoded() && !bloomActive) {
      // the stream ended without a decode
      bloomToSend = fallBack();
    } else if (repairs < config.limits().maxRepairRounds()) {
      repairs++;
      bloomToSend = Math.max(bloomRound, 0) + 1;
      bloomRound = bloomToSend;
      bloomActive = true;
      wanted.clear();
    } else {
      outcome = Outcome.DIVERGED;
      return reply;
    }
    bloomsSent.add(bloomToSend);
    BloomFilter f = BloomFilter.of(bloomKey(bloomToSend), dag, config.bloomFalsePositiveRate());
    reply.add(new SyncMessage.Bloom(bloomToSend, f.probes(), f.bits(), f.data()));
    addHeads(reply);
    return reply;
  }

  private void addHeads(List<SyncMessage> reply) {
    if (!headsSent) {
      headsSent = true;
      reply.add(new SyncMessage.Heads(cappedHeads()));
    }
  }

  private int fallBack() {
    fellBack = true;
    bloomActive = true;
    bloomRound = Math.max(bloomRound, 0);
    return bloomRound;
  }

  /** Whether the remaining symbols, estimated from the residual counts, would cost more than Bloom filters. */
  private boolean shouldFallBack(Riblt.Decoder decoder) {
    double estimate = decoder.estimateDifference();
    double remaining = ribltCost(estimate) - symbolsReceived * symbolBytes();
    return decoder.symbols() >= ESTIMATE_AFTER && remaining > BLOOM_PREFERENCE * bloomCost();
  }

  /** The most symbols a responder streams: twice the Bloom filters' bytes' worth, both sides compute it. */
  private long symbolBudget() {
    return Math.min(config.limits().maxBatchSymbols() * 4L,
        Math.max(4L * config.minBatch(), (long) Math.ceil(2 * bloomCost() / symbolBytes())));
  }

  private double ribltCost(double difference) {
    return (SYMBOLS_PER_DIFFERENCE * difference + 2 * config.minBatch()) * symbolBytes() + 4 * difference;
  }

  private double symbolBytes() {
    return compact ? COMPACT_SYMBOL_BYTES : SYMBOL_BYTES;
  }

  /** The bytes of both sides' Bloom filters. */
  private double bloomCost() {
    long peerCount = Objects.requireNonNull(peerSummary, "costs are weighed once the peer's summary is in").count();
    return (BloomFilter.bitsFor(dag.count(), config.bloomFalsePositiveRate())
        + BloomFilter.bitsFor(peerCount, config.bloomFalsePositiveRate())) / 8.0;
  }

  private void addWant(Hash id, List<Hash> wants) {
    if (wants.size() < config.limits().maxWants() && !dag.present(id) && wanted.add(id)) {
      wants.add(id);
    }
  }

  private void deriveKeys() {
    ribltKey = mode == SyncMessage.MODE_RIBLT_PAIRED
        ? SessionKey.forPair(dag.root(), Objects.requireNonNull(pairSecret, "mode 3 has a pair secret"))
        : key(SessionKey.PURPOSE_RIBLT, 0);
  }

  private static boolean isCompact(int mode) {
    return mode == SyncMessage.MODE_RIBLT_COMPACT || mode == SyncMessage.MODE_RIBLT_PAIRED;
  }

  /** This side's coded symbols and the digest of the set they encode. */
  private record Source(Riblt.Source source, SetDigest digest) {}

  /**
   * This side's symbols up to {@code horizon}: copied from the replica's kept set when the session runs
   * under the pair's standing key and the replica keeps one; otherwise encoded from every stored id.
   */
  private Source source(int horizon) {
    CodedSet.Snapshot kept = mode == SyncMessage.MODE_RIBLT_PAIRED ? dag.codedSnapshot(ribltKey()) : null;
    if (kept != null) {
      keptSymbols = true;
      Riblt.MaintainedEncoder m = new Riblt.MaintainedEncoder(kept, horizon);
      maintained = m;
      return new Source(m, kept.digest());
    }
    SetDigest digest = dag.digest();
    return new Source(new Riblt.Encoder(ribltKey(), dag, horizon, compact), digest);
  }

  private SessionKey ribltKey() {
    return Objects.requireNonNull(ribltKey, "the coded symbols' key is derived with the summaries");
  }

  private SessionKey bloomKey(int round) {
    return key(SessionKey.PURPOSE_BLOOM, round);
  }

  /** A key of this session: both nonces are known once the summaries are exchanged. */
  private SessionKey key(int purpose, int round) {
    return SessionKey.derive(dag.root(), Objects.requireNonNull(initiatorNonce, "the initiator's nonce"),
        Objects.requireNonNull(responderNonce, "the responder's nonce"), purpose, round);
  }

  private byte[] nonce() {
    byte[] n = new byte[SyncCodec.NONCE_BYTES];
    random.nextBytes(n);
    return n;
  }

  private SyncMessage.Summary summary(boolean withHeads) {
    SetDigest d = dag.digest();
    return new SyncMessage.Summary(d.count(), d.fingerprint(), withHeads ? cappedHeads() : List.of());
  }

  private List<Hash> cappedHeads() {
    List<Hash> heads = dag.heads();
    return heads.size() > config.limits().maxHeads() ? heads.subList(0, config.limits().maxHeads()) : heads;
  }

  /** Whether the decoded sender's set is the one its summary announced. */
  private static boolean sameSet(SetDigest theirs, SyncMessage.Summary announced) {
    return theirs.count() == announced.count() && theirs.fingerprint().equals(announced.fingerprint());
  }

  /** Equal fingerprints mean equal record sets, and so equal heads. */
  private static boolean sameState(SyncMessage.Summary a, SyncMessage.Summary b) {
    return a.count() == b.count() && a.fingerprint().equals(b.fingerprint());
  }

  static SyncMessage.Symbols toWire(Riblt.Symbols s, long senderCount) {
    long[] deltas = new long[s.size()];
    for (int i = 0; i < deltas.length; i++) {
      deltas[i] = s.counts[i] - Riblt.expectedCount(senderCount, s.first + i);
    }
    return new SyncMessage.Symbols(s.first, s.width, s.sums, s.checksums, deltas);
  }

  static Riblt.Symbols fromWire(SyncMessage.Symbols s, long senderCount) {
    long[] counts = new long[s.size()];
    for (int i = 0; i < counts.length; i++) {
      counts[i] = s.countDeltas()[i] + Riblt.expectedCount(senderCount, s.first() + i);
    }
    return new Riblt.Symbols(s.first(), s.width(), s.sums(), s.checksums(), counts);
  }

  /** The records of {@code ids}, parents before children among them (Kahn's order). */
  private List<SyncRecord> ordered(Set<Hash> ids) {
    Map<Hash, Integer> pending = new HashMap<>();
    Map<Hash, List<Hash>> childrenIn = new HashMap<>();
    ArrayDeque<Hash> ready = new ArrayDeque<>();
    for (Hash id : ids) {
      int n = 0;
      for (Hash p : heldParents(id)) {
        if (ids.contains(p)) {
          n++;
          childrenIn.computeIfAbsent(p, k -> new ArrayList<>(1)).add(id);
        }
      }
      if (n == 0) {
        ready.add(id);
      } else {
        pending.put(id, n);
      }
    }
    List<SyncRecord> out = new ArrayList<>(ids.size());
    while (!ready.isEmpty()) {
      Hash id = ready.poll();
      out.add(new SyncRecord(id, heldParents(id)));
      for (Hash c : childrenIn.getOrDefault(id, List.of())) {
        if (pending.merge(c, -1, Integer::sum) == 0) {
          pending.remove(c);
          ready.add(c);
        }
      }
    }
    if (out.size() != ids.size()) {
      throw new IllegalStateException("the DAG has a cycle");
    }
    return out;
  }

  /** The parents of a record this side sends: one it holds. */
  private List<Hash> heldParents(Hash id) {
    return Objects.requireNonNull(dag.parents(id), "a record sent is held here");
  }
}
