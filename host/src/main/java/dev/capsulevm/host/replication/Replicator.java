package dev.capsulevm.host.replication;

import dev.capsulevm.host.store.ReplicaStore;
import dev.capsulevm.host.sync.Reconciler;
import dev.capsulevm.host.sync.SyncCodec;
import dev.capsulevm.host.sync.SyncMessage;
import dev.capsulevm.host.sync.SyncProtocolException;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proto.tls.ChannelSecurity;
import dev.capsulevm.proto.v1.SyncFrame;
import dev.capsulevm.proto.v1.SyncGrpc;
import dev.capsulevm.vm.members.MemberCache;
import dev.capsulevm.vm.storage.Batch;
import dev.capsulevm.vm.storage.StorageException;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.HashSet;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A host's replication: the Sync service that answers peers' sessions, sessions this host opens (on a
 * schedule, to its configured peers, or at once through {@link #syncNow}), and what it remembers of each
 * peer. Every session opens with both hosts proving their host keys ({@link PeerHandshake}); a peer
 * whose key is not the one pinned for it, or that the allow list does not let pull the capsule, is
 * refused. A peer that misbehaves (a malformed turn, an invalid record) is logged, counted and backed
 * off, exponentially, whichever side it was on; so is one that fails, more gently. Peers that answer
 * sessions are remembered by the address configured for them, peers that open them by their host key.
 */
public final class Replicator implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Replicator.class);
  private static final Context.Key<String> REMOTE = Context.key("capsulevm-sync-remote");
  /** Initiators remembered at most (by key): beyond it, those no longer backed off are forgotten. */
  private static final int MAX_TRACKED_INITIATORS = 4096;

  /**
   * A peer to sync with: every capsule this host holds when {@code capsules} is empty; when {@code key}
   * is set, only a peer proving that host key is synced with (anything else is refused).
   */
  public record Peer(String address, Set<Hash> capsules, @Nullable PublicKey key) {
    public Peer {
      Objects.requireNonNull(address, "address");
      capsules = Set.copyOf(capsules);
    }

    public Peer(String address, Set<Hash> capsules) {
      this(address, capsules, null);
    }

    /**
     * One peer as the {@code --peers} option gives it: {@code [KEY@]HOST:PORT[@ID+ID...]}, where KEY is
     * the peer's host key (64 hex digits) and the IDs capsule ids (64 hex digits each). A key has no
     * colon and an address always has one, so {@code HOST:PORT@ID} keeps its meaning.
     *
     * @throws IllegalArgumentException naming the part that is wrong
     */
    public static Peer parse(String entry) {
      String[] parts = entry.trim().split("@", -1);
      int at = 0;
      PublicKey key = null;
      if (!parts[0].contains(":") && parts.length > 1) {
        try {
          key = PublicKey.fromHex(parts[0].trim());
        } catch (RuntimeException e) {
          throw new IllegalArgumentException("not a host key (64 hex digits) before HOST:PORT: " + parts[0], e);
        }
        at = 1;
      }
      String address = parts[at].trim();
      if (!address.matches("[^:@\\s]+:[0-9]{1,5}")) {
        throw new IllegalArgumentException("not HOST:PORT: " + address);
      }
      if (parts.length > at + 2) {
        throw new IllegalArgumentException("one @ too many in " + entry.trim()
            + " (KEY@HOST:PORT@ID+ID at most)");
      }
      Set<Hash> capsules = new HashSet<>();
      if (parts.length == at + 2) {
        for (String id : parts[at + 1].split("\\+", -1)) {
          try {
            capsules.add(Hash.fromHex(id.trim()));
          } catch (RuntimeException bad) {
            throw new IllegalArgumentException("not a capsule id (64 hex digits): " + id, bad);
          }
        }
      }
      return new Peer(address, capsules, key);
    }
  }

  /**
   * How this host replicates: its peers, how often and how patiently it syncs with them, the sessions'
   * limits, and how it verifies the peers it dials.
   *
   * @param interval how often every configured peer is synced (zero: only on demand)
   * @param maxIncomingSessions sessions answered at once; more are refused with RESOURCE_EXHAUSTED
   * @param backoffBase the first back-off after a failure; it doubles per failure in a row
   * @param backoffMax the longest back-off
   * @param peerSecurity how sessions this host opens reach their peers: plaintext (the default) or TLS
   *     verifying each peer's certificate (a CA file or pins)
   * @param allowedPeers per capsule, the host keys of the only peers that may sync it with this host
   *     (either side); a capsule not listed is synced with any peer
   * @param codedSets how many coded symbols are kept for peers, and for which capsules ({@link CodedSets})
   */
  public record Settings(List<Peer> peers, Duration interval, int maxIncomingSessions, Duration backoffBase,
      Duration backoffMax, Reconciler.Config reconcile, SyncSession.Limits transport, ReplicaDag.Limits staging,
      ChannelSecurity peerSecurity, Map<Hash, Set<PublicKey>> allowedPeers, CodedSets.Limits codedSets) {
    public Settings {
      Objects.requireNonNull(codedSets, "codedSets");
      peers = List.copyOf(peers);
      if (maxIncomingSessions < 1) {
        throw new IllegalArgumentException("maxIncomingSessions must be positive");
      }
      Objects.requireNonNull(peerSecurity, "peerSecurity");
      Map<Hash, Set<PublicKey>> copy = new java.util.HashMap<>();
      allowedPeers.forEach((capsule, keys) -> copy.put(capsule, Set.copyOf(keys)));
      allowedPeers = Map.copyOf(copy);
    }

    public Settings(List<Peer> peers, Duration interval, int maxIncomingSessions, Duration backoffBase,
        Duration backoffMax, Reconciler.Config reconcile, SyncSession.Limits transport, ReplicaDag.Limits staging,
        ChannelSecurity peerSecurity, Map<Hash, Set<PublicKey>> allowedPeers) {
      this(peers, interval, maxIncomingSessions, backoffBase, backoffMax, reconcile, transport, staging, peerSecurity,
          allowedPeers, CodedSets.Limits.defaults());
    }

    public Settings(List<Peer> peers, Duration interval, int maxIncomingSessions, Duration backoffBase,
        Duration backoffMax, Reconciler.Config reconcile, SyncSession.Limits transport, ReplicaDag.Limits staging,
        ChannelSecurity peerSecurity) {
      this(peers, interval, maxIncomingSessions, backoffBase, backoffMax, reconcile, transport, staging, peerSecurity,
          Map.of());
    }

    /** The same, keeping coded symbols as {@code value} says. */
    public Settings withCodedSets(CodedSets.Limits value) {
      return new Settings(peers, interval, maxIncomingSessions, backoffBase, backoffMax, reconcile, transport,
          staging, peerSecurity, allowedPeers, value);
    }

    public static Settings defaults(List<Peer> peers) {
      return new Settings(peers, Duration.ofSeconds(30), 2, Duration.ofSeconds(5), Duration.ofMinutes(10),
          Reconciler.Config.DEFAULT, SyncSession.Limits.DEFAULT, ReplicaDag.Limits.DEFAULT, ChannelSecurity.plaintext());
    }

    public Settings withInterval(Duration value) {
      return new Settings(peers, value, maxIncomingSessions, backoffBase, backoffMax, reconcile, transport, staging,
          peerSecurity, allowedPeers, codedSets);
    }

    public Settings withBackoff(Duration base, Duration max) {
      return new Settings(peers, interval, maxIncomingSessions, base, max, reconcile, transport, staging,
          peerSecurity, allowedPeers, codedSets);
    }

    public Settings withPeers(List<Peer> value) {
      return new Settings(value, interval, maxIncomingSessions, backoffBase, backoffMax, reconcile, transport,
          staging, peerSecurity, allowedPeers, codedSets);
    }

    public Settings withStaging(ReplicaDag.Limits value) {
      return new Settings(peers, interval, maxIncomingSessions, backoffBase, backoffMax, reconcile, transport,
          value, peerSecurity, allowedPeers, codedSets);
    }

    /** Sessions this host opens reach their peers with {@code value}. */
    public Settings withPeerSecurity(ChannelSecurity value) {
      return new Settings(peers, interval, maxIncomingSessions, backoffBase, backoffMax, reconcile, transport,
          staging, value, allowedPeers, codedSets);
    }

    /** Only the listed peers' keys may sync the listed capsules with this host. */
    public Settings withAllowedPeers(Map<Hash, Set<PublicKey>> value) {
      return new Settings(peers, interval, maxIncomingSessions, backoffBase, backoffMax, reconcile, transport,
          staging, peerSecurity, value, codedSets);
    }

    /** Whether the peer with host key {@code key} may sync {@code capsule} with this host. */
    public boolean mayPull(Hash capsule, PublicKey key) {
      Set<PublicKey> allowed = allowedPeers.get(capsule);
      return allowed == null || allowed.contains(key);
    }
  }

  /**
   * What the status shows of a peer. Times and the outcome are null when never; the key is the host key
   * the peer last proved (null before it ever did).
   */
  public record PeerState(String address, @Nullable Instant lastSession, @Nullable SyncOutcome lastOutcomeOrNull,
      String lastError, long lastBytes, long lastRecords, long sessions, long failures,
      @Nullable Instant backoffUntil, @Nullable PublicKey key) {}

  /**
   * One session's end, for {@link #syncNow}. {@code capsuleSkipped}: the session could not run for this
   * capsule, through no fault of the peer's: it does not replicate the capsule (it answered NOT_FOUND),
   * or an allow list keeps the capsule from it (REFUSED); the peer is not backed off and the next
   * capsule is tried. The capsule is null for a session this host answered (it is not known before the
   * first turn is read); the progress is null when the session failed before it started; the peer's key
   * is null when it never proved one.
   */
  public record SessionResult(@Nullable Hash capsule, SyncOutcome outcome, String error,
      SyncSession.@Nullable Progress progress, boolean capsuleSkipped, @Nullable PublicKey peerKey) {
    public SessionResult(@Nullable Hash capsule, SyncOutcome outcome, String error,
        SyncSession.@Nullable Progress progress) {
      this(capsule, outcome, error, progress, false, null);
    }

    public boolean ok() {
      return outcome.ok();
    }
  }

  private final ReplicaStore store;
  private final SigningKey hostKey;
  private final Settings settings;
  private final Clock clock;
  private final Semaphore incoming;
  private final ExecutorService sessionThreads = Executors.newCachedThreadPool(r -> {
    Thread t = new Thread(r, "capsulevm-sync");
    t.setDaemon(true);
    return t;
  });
  private final Map<String, ManagedChannel> channels = new ConcurrentHashMap<>();
  /** The validators and parsed membership records of the capsules replicated lately, shared by sessions. */
  private final MemberCache members = new MemberCache();
  /** The coded symbols kept for peers, per capsule and standing key; fed by the store's commits. */
  private final CodedSets coded;
  /** This host's exchange key and when it was drawn; guarded by {@code this}. */
  private PeerHandshake.ExchangeKey exchange = PeerHandshake.ExchangeKey.generate();
  private Instant exchangeDrawn;
  private final Map<String, Tracker> peers = new ConcurrentHashMap<>();
  /** Initiators that misbehaved, by the host key they proved. */
  private final Map<PublicKey, Tracker> initiators = new ConcurrentHashMap<>();
  private final Counter sessions;
  private final Counter misbehaviour;
  private final Counter bytes;
  private final Counter recordsStored;
  private final Gauge backedOff;
  private final java.util.concurrent.atomic.AtomicBoolean roundRunning = new java.util.concurrent.atomic.AtomicBoolean();
  /** The rounds {@link #start} scheduled, which {@link #close} cancels; null before. */
  private volatile @Nullable ScheduledFuture<?> rounds;
  private volatile boolean closed;

  /** A replicator whose sessions prove {@code hostKey} to their peers. */
  public Replicator(ReplicaStore store, SigningKey hostKey, Settings settings, Clock clock,
      PrometheusRegistry registry) {
    this.store = Objects.requireNonNull(store, "store");
    this.hostKey = Objects.requireNonNull(hostKey, "hostKey");
    this.settings = Objects.requireNonNull(settings, "settings");
    this.clock = Objects.requireNonNull(clock, "clock");
    this.incoming = new Semaphore(settings.maxIncomingSessions());
    this.exchangeDrawn = clock.instant();
    this.coded = new CodedSets(store, settings.codedSets(), clock);
    store.onRecordsStored(coded);
    for (Peer peer : settings.peers()) {
      peers.put(peer.address(), new Tracker(peer.address()));
    }
    sessions = Counter.builder().name("capsulevm_sync_sessions").help("Sync sessions by role and outcome")
        .labelNames("role", "outcome").register(registry);
    misbehaviour = Counter.builder().name("capsulevm_sync_misbehaviour")
        .help("Sessions ended because the peer sent something invalid, by peer host key (the address of a"
            + " peer this host dialled that never proved one, \"unauthenticated\" for an initiator that did not)")
        .labelNames("peer")
        .register(registry);
    bytes = Counter.builder().name("capsulevm_sync_bytes").help("Sync stream bytes, by direction")
        .labelNames("direction").register(registry);
    recordsStored = Counter.builder().name("capsulevm_sync_records_stored")
        .help("Records received from peers, verified and stored").register(registry);
    backedOff = Gauge.builder().name("capsulevm_sync_peers_backed_off")
        .help("Peers (configured or incoming) currently backed off").register(registry);
  }

  /** How long this host keeps an exchange key: its peers' standing keys, and the symbols kept under them, last as long. */
  static final Duration EXCHANGE_KEY_LIFETIME = Duration.ofHours(24);

  /**
   * This host's exchange key for a session starting now: the same for a day, then a new one, and the
   * symbols kept under the old keys are dropped.
   */
  private synchronized PeerHandshake.ExchangeKey exchangeKey() {
    Instant now = clock.instant();
    if (!now.isBefore(exchangeDrawn.plus(EXCHANGE_KEY_LIFETIME))) {
      exchange = PeerHandshake.ExchangeKey.generate();
      exchangeDrawn = now;
      coded.clear();
    }
    return exchange;
  }

  /** The coded symbols kept for peers (for tests and the status). */
  CodedSets codedSets() {
    return coded;
  }

  /** The Sync service, to add to the host's public server. */
  public ServerServiceDefinition service() {
    return ServerInterceptors.intercept(new Service(), new RemoteAddress());
  }

  /** Syncs every configured peer every {@link Settings#interval()}, skipping peers still backed off. */
  public void start(ScheduledExecutorService timer) {
    if (settings.interval().isZero() || settings.peers().isEmpty()) {
      return;
    }
    long every = settings.interval().toMillis();
    rounds = timer.scheduleWithFixedDelay(() -> sessionThreads.execute(this::syncConfiguredPeers), every, every,
        TimeUnit.MILLISECONDS);
  }

  /**
   * Every peer configured or synced with, by address, and ("from" their host key) peers whose sessions
   * this host answered and found invalid.
   */
  public List<PeerState> peers() {
    Map<String, PeerState> out = new TreeMap<>();
    for (Tracker t : peers.values()) {
      out.put(t.address, t.state());
    }
    for (Tracker t : initiators.values()) {
      PeerState state = t.state();
      if (state.lastSession() != null) { // only initiators that misbehaved are worth showing
        out.putIfAbsent("from " + t.address, state);
      }
    }
    return List.copyOf(out.values());
  }

  /**
   * Syncs with {@code peer} now: capsule {@code capsuleOrNull}, or every capsule this host holds, one
   * session each, in turn. A failed session is reported and the next capsule still tried. The peer is
   * {@code HOST:PORT}, whose pinned key (if it is a configured peer with one) it must prove, or
   * {@code KEY@HOST:PORT}, which pins KEY for these sessions.
   *
   * @throws IllegalArgumentException when {@code peer} is neither form
   */
  public List<SessionResult> syncNow(String peer, @Nullable Hash capsuleOrNull, ProgressListener progress) {
    Peer parsed = Peer.parse(peer);
    if (!parsed.capsules().isEmpty()) {
      throw new IllegalArgumentException("give the capsule apart, not as @ID: " + peer);
    }
    String address = parsed.address();
    PublicKey pin = parsed.key() != null ? parsed.key() : configuredPin(address);
    List<Hash> capsules = capsuleOrNull != null ? List.of(capsuleOrNull) : store.capsuleIds();
    Tracker tracker = peers.computeIfAbsent(address, Tracker::new);
    List<SessionResult> results = new ArrayList<>();
    for (int i = 0; i < capsules.size() && !closed; i++) {
      int index = i;
      Hash capsule = capsules.get(i);
      SessionResult result = initiate(address, pin, capsule,
          p -> progress.progress(capsule, index, capsules.size(), p));
      tracker.record(result);
      results.add(result);
      progress.ended(capsule, index, capsules.size(), result);
    }
    return results;
  }

  private @Nullable PublicKey configuredPin(String address) {
    for (Peer peer : settings.peers()) {
      if (peer.address().equals(address) && peer.key() != null) {
        return peer.key();
      }
    }
    return null;
  }

  /** Hears a {@link #syncNow} run: each session's progress, then its end. */
  public interface ProgressListener {
    /** Hears nothing. */
    ProgressListener NONE = new ProgressListener() {
      @Override
      public void progress(Hash capsule, int index, int count, SyncSession.Progress progress) {}

      @Override
      public void ended(Hash capsule, int index, int count, SessionResult result) {}
    };

    void progress(Hash capsule, int index, int count, SyncSession.Progress progress);

    void ended(Hash capsule, int index, int count, SessionResult result);
  }

  private void syncConfiguredPeers() {
    if (!roundRunning.compareAndSet(false, true)) {
      return; // the last round is still going: rounds never overlap
    }
    try {
      syncRound();
    } finally {
      roundRunning.set(false);
    }
  }

  private void syncRound() {
    for (Peer peer : settings.peers()) {
      Tracker tracker = Objects.requireNonNull(peers.get(peer.address()), "configured peers are tracked");
      if (closed || tracker.backedOff(clock.instant())) {
        continue;
      }
      List<Hash> capsules = peer.capsules().isEmpty() ? store.capsuleIds() : List.copyOf(peer.capsules());
      for (Hash capsule : capsules) {
        SessionResult result = initiate(peer.address(), peer.key(), capsule, p -> {});
        tracker.record(result);
        if (!result.ok() && !result.capsuleSkipped()) {
          break; // backed off: the rest waits for the next round
        }
      }
    }
    updateBackedOff();
  }

  /**
   * Opens a session with {@code address} for {@code capsule} and runs it to its end: first the peer
   * proof (the peer must prove {@code pinned} when it is set, and be allowed the capsule), then the
   * reconciliation.
   */
  SessionResult initiate(String address, @Nullable PublicKey pinned, Hash capsule,
      Consumer<SyncSession.Progress> progress) {
    FrameChannel channel = new FrameChannel();
    boolean held = store.hasCapsule(capsule);
    SessionReplica replica = null;
    SyncSession session = null;
    PublicKey peerKey = null;
    try {
      SyncGrpc.newStub(channelFor(address)).session(channel);
      PeerHandshake.Initiator handshake = new PeerHandshake.Initiator(hostKey, exchangeKey(), capsule);
      channel.send(handshake.opening(), settings.transport().frameTimeout());
      PeerHandshake.Proven proven = handshake.answer(channel, settings.transport().frameTimeout());
      peerKey = proven.peer();
      if (pinned != null && !pinned.equals(peerKey)) {
        String why = "peer " + address + " presented host key " + peerKey.toHex() + ", not its pinned key "
            + pinned.toHex();
        log.warn("refused sync peer: {}", why);
        return refuse(channel, capsule, why, false, peerKey);
      }
      if (!settings.mayPull(capsule, peerKey)) {
        String why = "host key " + peerKey.toHex() + " (peer " + address + ") may not sync capsule " + capsule
            + " with this host (its allow list)";
        log.info("refused a sync session: {}", why);
        return refuse(channel, capsule, why, true, peerKey);
      }
      replica = held ? new ReplicaDag(store, capsule, settings.staging(), members, coded) : new NewReplica(capsule);
      SessionReplica opened = replica;
      session = new SyncSession(channel, replica, new Reconciler(replica, Reconciler.Role.INITIATOR,
          settings.reconcile(), proven.pairSecret()), settings.transport(), progress);
      SyncSession.Progress end = session.initiate(
          SyncFrame.newBuilder().setWantMetadata(!held).setProof(proven.signature()), frame -> {
            if (opened instanceof NewReplica fresh) {
              fresh.create(frame);
            }
          });
      count("initiator", end.outcome().name(), channel);
      recordsStored.inc(end.recordsStored());
      return new SessionResult(capsule, SyncOutcome.of(end.outcome()), "", end, false, peerKey);
    } catch (SyncFailure f) {
      channel.fail(Status.CANCELLED.withDescription(f.getMessage()));
      if (f.code() == Status.Code.PERMISSION_DENIED) {
        log.info("sync peer {} refused a session for capsule {}: {}", address, capsule, f.getMessage());
        count("initiator", SyncOutcome.REFUSED.name(), channel);
        return new SessionResult(capsule, SyncOutcome.REFUSED, String.valueOf(f.getMessage()), null, true, peerKey);
      }
      String peer = peerKey != null ? peerKey.toHex() : address;
      if (f.misbehaved()) {
        log.warn("sync peer {} ({}) misbehaved in a session for capsule {}: {}", address,
            peerKey != null ? peerKey.toHex() : "no host key proven", capsule, f.getMessage());
        misbehaviour.labelValues(peer).inc();
      } else {
        log.info("sync session with {} for capsule {} failed: {}", address, capsule, f.getMessage());
      }
      count("initiator", f.misbehaved() ? "MISBEHAVED" : "FAILED", channel);
      return new SessionResult(capsule, SyncOutcome.FAILED, String.valueOf(f.getMessage()),
          session == null ? null : session.report(), f.code() == Status.Code.NOT_FOUND, peerKey);
    } catch (StorageException | RuntimeException e) {
      channel.fail(Status.CANCELLED.withDescription("the initiator failed"));
      if (closed) {
        log.info("sync session with {} for capsule {} cut off by shutdown: {}", address, capsule, e.toString());
      } else {
        log.error("sync session with {} for capsule {} failed", address, capsule, e);
      }
      count("initiator", "FAILED", channel);
      return new SessionResult(capsule, SyncOutcome.FAILED, String.valueOf(e.getMessage()), session == null ? null
          : session.report(), false, peerKey);
    } finally {
      if (replica != null) {
        replica.close();
      }
    }
  }

  /** Ends a session this host refuses after the peer proof, before anything of the capsule was sent. */
  private SessionResult refuse(FrameChannel channel, Hash capsule, String why, boolean capsuleSkipped,
      PublicKey peerKey) {
    channel.fail(Status.CANCELLED.withDescription("refused: " + why));
    count("initiator", SyncOutcome.REFUSED.name(), channel);
    return new SessionResult(capsule, SyncOutcome.REFUSED, why, null, capsuleSkipped, peerKey);
  }

  private ManagedChannel channelFor(String address) {
    return channels.computeIfAbsent(address, a -> NettyChannelBuilder.forTarget(a, settings.peerSecurity().credentials())
        .maxInboundMessageSize(settings.transport().chunkBytes() + (1 << 20)).build());
  }

  private void count(String role, String outcome, FrameChannel channel) {
    sessions.labelValues(role, outcome).inc();
    bytes.labelValues("sent").inc(channel.bytesSent());
    bytes.labelValues("received").inc(channel.bytesReceived());
  }

  private void updateBackedOff() {
    Instant now = clock.instant();
    long n = 0;
    for (Tracker t : peers.values()) {
      n += t.backedOff(now) ? 1 : 0;
    }
    for (Tracker t : initiators.values()) {
      n += t.backedOff(now) ? 1 : 0;
    }
    backedOff.set((double) n);
  }

  @Override
  public void close() {
    closed = true;
    store.onRecordsStored(null);
    coded.clear();
    ScheduledFuture<?> scheduled = rounds;
    if (scheduled != null) {
      scheduled.cancel(false);
    }
    sessionThreads.shutdownNow();
    for (ManagedChannel channel : channels.values()) {
      channel.shutdownNow();
    }
    try {
      sessionThreads.awaitTermination(5, TimeUnit.SECONDS);
      for (ManagedChannel channel : channels.values()) {
        channel.awaitTermination(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  // ---- the responder

  private final class Service extends SyncGrpc.SyncImplBase {
    @Override
    public StreamObserver<SyncFrame> session(StreamObserver<SyncFrame> responses) {
      ServerCallStreamObserver<SyncFrame> call = (ServerCallStreamObserver<SyncFrame>) responses;
      String remote = REMOTE.get();
      if (closed) {
        call.onError(Status.UNAVAILABLE.withDescription("the host is shutting down").asRuntimeException());
        return new Discard();
      }
      if (!incoming.tryAcquire()) {
        call.onError(Status.RESOURCE_EXHAUSTED.withDescription("already answering "
            + settings.maxIncomingSessions() + " sync sessions; try again later").asRuntimeException());
        return new Discard();
      }
      FrameChannel channel = new FrameChannel();
      channel.bind(call);
      try {
        sessionThreads.execute(() -> {
          try {
            respond(channel, remote);
          } finally {
            incoming.release();
          }
        });
      } catch (RuntimeException e) {
        incoming.release();
        call.onError(Status.UNAVAILABLE.withDescription("the host is shutting down").asRuntimeException());
      }
      return channel;
    }
  }

  /**
   * Answers one session from {@code remote} (an IP address, for the logs only): the peer proof, then the
   * checks on the proven key (back-off, allow list), then the reconciliation. What an initiator does
   * before it has proved its key is refused but held against no one: its key is only claimed.
   */
  private void respond(FrameChannel channel, String remote) {
    SyncSession.Progress end = null;
    PublicKey initiator = null; // set once proven
    try {
      Duration timeout = settings.transport().frameTimeout();
      SyncFrame opening = channel.take(timeout);
      if (opening == null) {
        return;
      }
      PeerHandshake.Opening claim = PeerHandshake.Opening.parse(opening);
      PeerHandshake.Answered answered = claim.answer(hostKey, exchangeKey(), channel, timeout);
      if (answered == null) {
        count("responder", "FAILED", channel); // the initiator refused this host's key
        return;
      }
      SyncFrame first = answered.first();
      initiator = claim.initiator();
      Tracker known = initiators.get(initiator);
      Instant now = clock.instant();
      if (known != null && known.backedOff(now)) {
        throw SyncFailure.of(Status.Code.RESOURCE_EXHAUSTED, "sessions from host key " + initiator.toHex()
            + " are refused until " + known.backoffUntilOrNull() + " after an invalid session");
      }
      Hash capsule = capsuleOf(first);
      if (!capsule.equals(claim.capsule())) {
        throw SyncFailure.misbehaviour("the Hello names capsule " + capsule + ", the peer proof " + claim.capsule(),
            null);
      }
      if (!settings.mayPull(capsule, initiator)) {
        log.info("refused a sync session for capsule {} to host key {} from {}: not in the capsule's allow list",
            capsule, initiator.toHex(), remote);
        throw SyncFailure.of(Status.Code.PERMISSION_DENIED, "host key " + initiator.toHex()
            + " may not sync capsule " + capsule + " with this host");
      }
      if (!store.hasCapsule(capsule)) {
        throw SyncFailure.of(Status.Code.NOT_FOUND, "capsule " + capsule + " is not held here");
      }
      try (ReplicaDag replica = new ReplicaDag(store, capsule, settings.staging(), members, coded)) {
        SyncFrame.Builder firstReply = SyncFrame.newBuilder();
        if (first.getWantMetadata()) {
          SignedMetadata metadata = Objects.requireNonNull(store.metadataOrNull(capsule),
              "the replica opened, so the store holds the capsule");
          firstReply.setMetadata(com.google.protobuf.ByteString.copyFrom(metadata.encoded()));
        }
        SyncSession session = new SyncSession(channel, replica,
            new Reconciler(replica, Reconciler.Role.RESPONDER, settings.reconcile(), answered.pairSecret()),
            settings.transport(), p -> {});
        session.respond(first, firstReply);
        end = session.report();
        recordsStored.inc(end.recordsStored());
      }
      count("responder", "ENDED", channel);
      if (known != null) {
        known.answeredWell();
      }
    } catch (SyncFailure f) {
      if (f.misbehaved() && initiator != null) {
        log.warn("sync peer with host key {} (from {}) misbehaved: {}", initiator.toHex(), remote, f.getMessage());
        misbehaviour.labelValues(initiator.toHex()).inc();
        trackInitiator(initiator).record(new SessionResult(null, SyncOutcome.FAILED, String.valueOf(f.getMessage()),
            end, false, initiator));
      } else if (f.misbehaved()) {
        log.warn("an initiator from {} that proved no host key was refused: {}", remote, f.getMessage());
        misbehaviour.labelValues("unauthenticated").inc();
      }
      String outcome = f.code() == Status.Code.PERMISSION_DENIED ? SyncOutcome.REFUSED.name()
          : f.misbehaved() ? "MISBEHAVED" : "FAILED";
      count("responder", outcome, channel);
      channel.fail(f.status());
    } catch (StorageException | RuntimeException e) {
      log.error("answering a sync session from {} failed", remote, e);
      count("responder", "FAILED", channel);
      channel.fail(Status.INTERNAL.withDescription("the responder failed: " + e.getMessage()));
    } finally {
      updateBackedOff();
    }
  }

  /** The tracker of an initiator that misbehaved; at the cap, those no longer backed off are forgotten first. */
  private Tracker trackInitiator(PublicKey key) {
    if (initiators.size() >= MAX_TRACKED_INITIATORS && !initiators.containsKey(key)) {
      Instant now = clock.instant();
      initiators.values().removeIf(t -> !t.backedOff(now));
    }
    return initiators.computeIfAbsent(key, k -> new Tracker(k.toHex()));
  }

  /** The capsule the initiator's first turn (a Hello, complete in its first frame) names. */
  private Hash capsuleOf(SyncFrame first) throws SyncFailure {
    if (first.getMore() || first.getTurnBytes() != first.getTurn().size()) {
      throw SyncFailure.misbehaviour("the first turn must fit in its frame", null);
    }
    List<SyncMessage> turn;
    try {
      turn = SyncCodec.decodeTurn(first.getTurn().toByteArray(), settings.transport().turnLimits());
    } catch (SyncProtocolException e) {
      throw SyncFailure.misbehaviour("malformed first turn: " + e.getMessage(), e);
    }
    if (turn.isEmpty() || !(turn.get(0) instanceof SyncMessage.Hello hello)) {
      throw SyncFailure.misbehaviour("the first turn must open with a Hello", null);
    }
    return hello.capsule();
  }

  /** Puts the caller's address (host only: ports change per connection) into the call's context. */
  private static final class RemoteAddress implements ServerInterceptor {
    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
        ServerCallHandler<Q, R> next) {
      SocketAddress address = call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR);
      String remote = address instanceof InetSocketAddress inet ? inet.getAddress().getHostAddress()
          : String.valueOf(address);
      return Contexts.interceptCall(Context.current().withValue(REMOTE, remote), call, headers, next);
    }
  }

  private static final class Discard implements StreamObserver<SyncFrame> {
    @Override
    public void onNext(SyncFrame value) {}

    @Override
    public void onError(Throwable t) {}

    @Override
    public void onCompleted() {}
  }

  // ---- a replica this host does not hold yet

  /**
   * The initiator's side of a capsule it does not hold: empty until the responder's first frame brings
   * the signed metadata, which is verified (signature, and that it hashes to the capsule id asked for)
   * before the capsule is created here; from then on the store's replica.
   */
  private final class NewReplica extends DelegatingReplica {
    NewReplica(Hash capsule) {
      super(capsule);
    }

    void create(SyncFrame first) throws SyncFailure {
      Hash capsule = root();
      SignedMetadata metadata;
      try {
        metadata = SignedMetadata.parse(first.getMetadata().toByteArray(), capsule);
      } catch (VerificationException e) {
        throw SyncFailure.misbehaviour("bad metadata for capsule " + capsule + ": " + e.getMessage(), e);
      }
      try {
        if (!store.hasCapsule(capsule)) {
          try (Batch batch = store.newBatch()) {
            batch.createCapsule(metadata);
            batch.commit();
          }
        }
        open(new ReplicaDag(store, capsule, settings.staging(), members, coded));
      } catch (StorageException e) {
        if (e.reason() != StorageException.Reason.CAPSULE_EXISTS) {
          throw new SyncFailure(Status.Code.INTERNAL, false, "could not create capsule " + capsule, e);
        }
        try {
          open(new ReplicaDag(store, capsule, settings.staging(), members, coded));
        } catch (StorageException again) {
          throw new SyncFailure(Status.Code.INTERNAL, false, "could not open capsule " + capsule, again);
        }
      }
    }
  }

  // ---- what is remembered of a peer

  private final class Tracker {
    final String address;
    @Nullable Instant lastSession;
    @Nullable SyncOutcome lastOutcome;
    String lastError = "";
    long lastBytes;
    long lastRecords;
    long sessionCount;
    long failures;
    int failuresInRow;
    @Nullable Instant backoffUntil;
    @Nullable PublicKey key;

    Tracker(String address) {
      this.address = address;
    }

    synchronized void record(SessionResult result) {
      lastSession = clock.instant();
      lastOutcome = result.outcome();
      lastError = result.error();
      SyncSession.Progress p = result.progress();
      lastBytes = p == null ? 0 : p.bytesSent() + p.bytesReceived();
      lastRecords = p == null ? 0 : p.recordsReceived() + p.recordsSent();
      sessionCount++;
      if (result.peerKey() != null) {
        key = result.peerKey();
      }
      if (result.capsuleSkipped()) {
        return; // not a fault: the peer does not replicate this capsule, or may not have it
      }
      if (!result.ok()) {
        failures++;
        failuresInRow++;
        long factor = 1L << Math.min(20, failuresInRow - 1);
        Duration wait = settings.backoffBase().multipliedBy(factor);
        backoffUntil = lastSession.plus(wait.compareTo(settings.backoffMax()) > 0 ? settings.backoffMax() : wait);
      } else {
        failuresInRow = 0;
        backoffUntil = null;
      }
    }

    /** An answered session that ended well: only the initiator knows its outcome, so only the back-off clears. */
    synchronized void answeredWell() {
      failuresInRow = 0;
      backoffUntil = null;
    }

    synchronized @Nullable Instant backoffUntilOrNull() {
      return backoffUntil;
    }

    synchronized boolean backedOff(Instant now) {
      return backoffUntil != null && now.isBefore(backoffUntil);
    }

    synchronized PeerState state() {
      return new PeerState(address, lastSession, lastOutcome, lastError, lastBytes, lastRecords, sessionCount,
          failures, backoffUntil, key);
    }
  }
}
