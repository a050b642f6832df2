package dev.capsulevm.host.replication;

import dev.capsulevm.host.store.ReplicaStore;
import dev.capsulevm.host.sync.Reconciler;
import dev.capsulevm.host.sync.SyncCodec;
import dev.capsulevm.host.sync.SyncMessage;
import dev.capsulevm.host.sync.SyncProtocolException;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.capsule.SignedMetadata;
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
 * peer. A peer that misbehaves (a malformed turn, an invalid record) is logged, counted and backed off,
 * exponentially, whichever side it was on; so is one that fails, more gently.
 */
public final class Replicator implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Replicator.class);
  private static final Context.Key<String> REMOTE = Context.key("capsulevm-sync-remote");

  /** A peer to sync with: every capsule this host holds when {@code capsules} is empty. */
  public record Peer(String address, Set<Hash> capsules) {
    public Peer {
      Objects.requireNonNull(address, "address");
      capsules = Set.copyOf(capsules);
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
   */
  public record Settings(List<Peer> peers, Duration interval, int maxIncomingSessions, Duration backoffBase,
      Duration backoffMax, Reconciler.Config reconcile, SyncSession.Limits transport, ReplicaDag.Limits staging,
      ChannelSecurity peerSecurity) {
    public Settings {
      peers = List.copyOf(peers);
      if (maxIncomingSessions < 1) {
        throw new IllegalArgumentException("maxIncomingSessions must be positive");
      }
      Objects.requireNonNull(peerSecurity, "peerSecurity");
    }

    public static Settings defaults(List<Peer> peers) {
      return new Settings(peers, Duration.ofSeconds(30), 2, Duration.ofSeconds(5), Duration.ofMinutes(10),
          Reconciler.Config.DEFAULT, SyncSession.Limits.DEFAULT, ReplicaDag.Limits.DEFAULT, ChannelSecurity.plaintext());
    }

    public Settings withInterval(Duration value) {
      return new Settings(peers, value, maxIncomingSessions, backoffBase, backoffMax, reconcile, transport, staging,
          peerSecurity);
    }

    public Settings withBackoff(Duration base, Duration max) {
      return new Settings(peers, interval, maxIncomingSessions, base, max, reconcile, transport, staging,
          peerSecurity);
    }

    public Settings withPeers(List<Peer> value) {
      return new Settings(value, interval, maxIncomingSessions, backoffBase, backoffMax, reconcile, transport,
          staging, peerSecurity);
    }

    public Settings withStaging(ReplicaDag.Limits value) {
      return new Settings(peers, interval, maxIncomingSessions, backoffBase, backoffMax, reconcile, transport,
          value, peerSecurity);
    }

    /** Sessions this host opens reach their peers with {@code value}. */
    public Settings withPeerSecurity(ChannelSecurity value) {
      return new Settings(peers, interval, maxIncomingSessions, backoffBase, backoffMax, reconcile, transport,
          staging, value);
    }
  }

  /** What the status shows of a peer. Times and the outcome are null when never. */
  public record PeerState(String address, @Nullable Instant lastSession, @Nullable SyncOutcome lastOutcomeOrNull,
      String lastError, long lastBytes, long lastRecords, long sessions, long failures,
      @Nullable Instant backoffUntil) {}

  /**
   * One session's end, for {@link #syncNow}. {@code peerLacksCapsule}: the peer answered NOT_FOUND (it
   * does not replicate that capsule), which fails the session but is no fault of the peer's. The capsule
   * is null for a session this host answered (it is not known before the first turn is read); the progress
   * is null when the session failed before it started.
   */
  public record SessionResult(@Nullable Hash capsule, SyncOutcome outcome, String error,
      SyncSession.@Nullable Progress progress, boolean peerLacksCapsule) {
    public SessionResult(@Nullable Hash capsule, SyncOutcome outcome, String error,
        SyncSession.@Nullable Progress progress) {
      this(capsule, outcome, error, progress, false);
    }

    public boolean ok() {
      return outcome.ok();
    }
  }

  private final ReplicaStore store;
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
  private final Map<String, Tracker> peers = new ConcurrentHashMap<>();
  private final Map<String, Tracker> initiators = new ConcurrentHashMap<>();
  private final Counter sessions;
  private final Counter misbehaviour;
  private final Counter bytes;
  private final Counter recordsStored;
  private final Gauge backedOff;
  private final java.util.concurrent.atomic.AtomicBoolean roundRunning = new java.util.concurrent.atomic.AtomicBoolean();
  /** The rounds {@link #start} scheduled, which {@link #close} cancels; null before. */
  private volatile @Nullable ScheduledFuture<?> rounds;
  private volatile boolean closed;

  public Replicator(ReplicaStore store, Settings settings, Clock clock, PrometheusRegistry registry) {
    this.store = Objects.requireNonNull(store, "store");
    this.settings = Objects.requireNonNull(settings, "settings");
    this.clock = Objects.requireNonNull(clock, "clock");
    this.incoming = new Semaphore(settings.maxIncomingSessions());
    for (Peer peer : settings.peers()) {
      peers.put(peer.address(), new Tracker(peer.address()));
    }
    sessions = Counter.builder().name("capsulevm_sync_sessions").help("Sync sessions by role and outcome")
        .labelNames("role", "outcome").register(registry);
    misbehaviour = Counter.builder().name("capsulevm_sync_misbehaviour")
        .help("Sessions ended because the peer sent something invalid, by peer").labelNames("peer")
        .register(registry);
    bytes = Counter.builder().name("capsulevm_sync_bytes").help("Sync stream bytes, by direction")
        .labelNames("direction").register(registry);
    recordsStored = Counter.builder().name("capsulevm_sync_records_stored")
        .help("Records received from peers, verified and stored").register(registry);
    backedOff = Gauge.builder().name("capsulevm_sync_peers_backed_off")
        .help("Peers (configured or incoming) currently backed off").register(registry);
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
   * Every peer configured or synced with, by address, and ("from" their IP address) peers whose sessions
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
   * session each, in turn. A failed session is reported and the next capsule still tried.
   */
  public List<SessionResult> syncNow(String peer, @Nullable Hash capsuleOrNull, ProgressListener progress) {
    List<Hash> capsules = capsuleOrNull != null ? List.of(capsuleOrNull) : store.capsuleIds();
    Tracker tracker = peers.computeIfAbsent(peer, Tracker::new);
    List<SessionResult> results = new ArrayList<>();
    for (int i = 0; i < capsules.size() && !closed; i++) {
      int index = i;
      Hash capsule = capsules.get(i);
      SessionResult result = initiate(peer, capsule, p -> progress.progress(capsule, index, capsules.size(), p));
      tracker.record(result);
      results.add(result);
      progress.ended(capsule, index, capsules.size(), result);
    }
    return results;
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
        SessionResult result = initiate(peer.address(), capsule, p -> {});
        tracker.record(result);
        if (!result.ok() && !result.peerLacksCapsule()) {
          break; // backed off: the rest waits for the next round
        }
      }
    }
    updateBackedOff();
  }

  /** Opens a session with {@code address} for {@code capsule} and runs it to its end. */
  SessionResult initiate(String address, Hash capsule, Consumer<SyncSession.Progress> progress) {
    FrameChannel channel = new FrameChannel();
    boolean held = store.hasCapsule(capsule);
    SessionReplica replica = null;
    SyncSession session = null;
    try {
      replica = held ? new ReplicaDag(store, capsule, settings.staging(), members) : new NewReplica(capsule);
      SessionReplica opened = replica;
      session = new SyncSession(channel, replica, new Reconciler(replica, Reconciler.Role.INITIATOR,
          settings.reconcile()), settings.transport(), progress);
      SyncGrpc.newStub(channelFor(address)).session(channel);
      SyncSession.Progress end = session.initiate(SyncFrame.newBuilder().setWantMetadata(!held), frame -> {
        if (opened instanceof NewReplica fresh) {
          fresh.create(frame);
        }
      });
      count("initiator", end.outcome().name(), channel);
      recordsStored.inc(end.recordsStored());
      return new SessionResult(capsule, SyncOutcome.of(end.outcome()), "", end);
    } catch (SyncFailure f) {
      channel.fail(Status.CANCELLED.withDescription(f.getMessage()));
      if (f.misbehaved()) {
        log.warn("sync peer {} misbehaved in a session for capsule {}: {}", address, capsule, f.getMessage());
        misbehaviour.labelValues(address).inc();
      } else {
        log.info("sync session with {} for capsule {} failed: {}", address, capsule, f.getMessage());
      }
      count("initiator", f.misbehaved() ? "MISBEHAVED" : "FAILED", channel);
      return new SessionResult(capsule, SyncOutcome.FAILED, String.valueOf(f.getMessage()),
          session == null ? null : session.report(), f.code() == Status.Code.NOT_FOUND);
    } catch (StorageException | RuntimeException e) {
      channel.fail(Status.CANCELLED.withDescription("the initiator failed"));
      if (closed) {
        log.info("sync session with {} for capsule {} cut off by shutdown: {}", address, capsule, e.toString());
      } else {
        log.error("sync session with {} for capsule {} failed", address, capsule, e);
      }
      count("initiator", "FAILED", channel);
      return new SessionResult(capsule, SyncOutcome.FAILED, String.valueOf(e.getMessage()), session == null ? null
          : session.report());
    } finally {
      if (replica != null) {
        replica.close();
      }
    }
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
      Tracker tracker = initiators.computeIfAbsent(remote, Tracker::new);
      Instant now = clock.instant();
      if (closed) {
        call.onError(Status.UNAVAILABLE.withDescription("the host is shutting down").asRuntimeException());
        return new Discard();
      }
      if (tracker.backedOff(now)) {
        call.onError(Status.RESOURCE_EXHAUSTED.withDescription("sessions from " + remote + " are refused until "
            + tracker.backoffUntil + " after an invalid session").asRuntimeException());
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
            respond(channel, tracker);
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

  private void respond(FrameChannel channel, Tracker tracker) {
    SyncSession.Progress end = null;
    try {
      SyncFrame first = channel.take(settings.transport().frameTimeout());
      if (first == null) {
        return;
      }
      Hash capsule = capsuleOf(first);
      if (!store.hasCapsule(capsule)) {
        throw SyncFailure.of(Status.Code.NOT_FOUND, "capsule " + capsule + " is not held here");
      }
      try (ReplicaDag replica = new ReplicaDag(store, capsule, settings.staging(), members)) {
        SyncFrame.Builder firstReply = SyncFrame.newBuilder();
        if (first.getWantMetadata()) {
          SignedMetadata metadata = Objects.requireNonNull(store.metadataOrNull(capsule),
              "the replica opened, so the store holds the capsule");
          firstReply.setMetadata(com.google.protobuf.ByteString.copyFrom(metadata.encoded()));
        }
        SyncSession session = new SyncSession(channel, replica,
            new Reconciler(replica, Reconciler.Role.RESPONDER, settings.reconcile()), settings.transport(), p -> {});
        session.respond(first, firstReply);
        end = session.report();
        recordsStored.inc(end.recordsStored());
      }
      count("responder", "ENDED", channel);
      tracker.answeredWell();
    } catch (SyncFailure f) {
      if (f.misbehaved()) {
        log.warn("sync peer {} misbehaved: {}", tracker.address, f.getMessage());
        misbehaviour.labelValues(tracker.address).inc();
        tracker.record(new SessionResult(null, SyncOutcome.FAILED, String.valueOf(f.getMessage()), end));
      }
      count("responder", f.misbehaved() ? "MISBEHAVED" : "FAILED", channel);
      channel.fail(f.status());
    } catch (StorageException | RuntimeException e) {
      log.error("answering a sync session from {} failed", tracker.address, e);
      count("responder", "FAILED", channel);
      channel.fail(Status.INTERNAL.withDescription("the responder failed: " + e.getMessage()));
    } finally {
      updateBackedOff();
    }
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
        open(new ReplicaDag(store, capsule, settings.staging(), members));
      } catch (StorageException e) {
        if (e.reason() != StorageException.Reason.CAPSULE_EXISTS) {
          throw new SyncFailure(Status.Code.INTERNAL, false, "could not create capsule " + capsule, e);
        }
        try {
          open(new ReplicaDag(store, capsule, settings.staging(), members));
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
      if (result.peerLacksCapsule()) {
        return; // not a fault: the peer does not replicate this capsule
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

    synchronized boolean backedOff(Instant now) {
      return backoffUntil != null && now.isBefore(backoffUntil);
    }

    synchronized PeerState state() {
      return new PeerState(address, lastSession, lastOutcome, lastError, lastBytes, lastRecords, sessionCount,
          failures, backoffUntil);
    }
  }
}
