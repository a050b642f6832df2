package dev.capsulevm.host.server;

import dev.capsulevm.host.replication.Replicator;
import dev.capsulevm.host.store.LmdbCapsuleStorage;
import dev.capsulevm.host.store.ReplicaStore;
import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.Cashier;
import dev.capsulevm.pricing.Ledger;
import dev.capsulevm.pricing.Reservations;
import dev.capsulevm.pricing.Limits;
import dev.capsulevm.pricing.PriceTable;
import dev.capsulevm.pricing.Prices;
import dev.capsulevm.proofs.crypto.KeyFile;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proto.WireSizes;
import dev.capsulevm.host.tls.TlsIdentity;
import dev.capsulevm.proto.v1.AdminGrpc;
import dev.capsulevm.proto.v1.HostGrpc;
import dev.capsulevm.vm.exec.Executor;
import dev.capsulevm.vm.members.MemberCache;
import dev.capsulevm.vm.retention.Retention;
import io.grpc.InsecureServerCredentials;
import io.grpc.Server;
import io.grpc.ServerCredentials;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A running host: the LMDB store and the ledger in the data directory, the Host and Sync services, the
 * Admin service (token-protected, loopback by default) and the Prometheus endpoint; each gRPC port with
 * health checking and server reflection, and every port over TLS when the configuration has a
 * certificate.
 */
public final class HostServer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(HostServer.class);
  public static final String HOST_KEY_FILE = "host.key";
  public static final String ADMIN_TOKEN_FILE = "admin.token";
  public static final String STORE_DIRECTORY = "store";

  private final HostConfig config;
  private final DataDirectory data;
  private final SigningKey hostKey;
  private final String adminToken;
  private final ReplicaStore storage;
  private final HostContext ctx;
  private final Server server;
  private final Server adminServer;
  /** The health services of the Host port and of the Admin port. */
  private final List<HealthStatusManager> health;
  private final ScheduledExecutorService scheduler;
  private final ExecutorService programPool;
  /** Where the Host port's calls run what they must not run in the transport's thread ({@link CallLanes}). */
  private final ExecutorService callPool;
  private final Metrics metrics;
  private final Replicator replicator;
  private final RetentionRunner retention;
  private boolean closed;

  private HostServer(HostConfig config, DataDirectory data, SigningKey hostKey, String adminToken,
      ReplicaStore storage, HostContext ctx, Server server, Server adminServer, List<HealthStatusManager> health,
      ScheduledExecutorService scheduler, ExecutorService programPool, ExecutorService callPool, Metrics metrics,
      Replicator replicator, RetentionRunner retention) {
    this.config = config;
    this.data = data;
    this.hostKey = hostKey;
    this.adminToken = adminToken;
    this.storage = storage;
    this.ctx = ctx;
    this.server = server;
    this.adminServer = adminServer;
    this.health = health;
    this.scheduler = scheduler;
    this.programPool = programPool;
    this.callPool = callPool;
    this.metrics = metrics;
    this.replicator = replicator;
    this.retention = retention;
  }

  /**
   * Takes the data directory's lock (a second host on the same directory is refused with {@link
   * DataDirectoryInUseException}, nothing changed), opens the store and the ledger in it, makes or loads
   * the host key and the admin token, signs a price table, binds the Host, Admin and metrics endpoints,
   * and returns when serving. A start that fails (a port in use, say) removes what it made in the
   * directory (a new host key, admin token, store, price tables) and releases the lock. An Admin service
   * configured on a non-loopback address without TLS is refused first ({@link InsecureAdminException}).
   */
  public static HostServer start(HostConfig config) throws IOException {
    return start(config, Retention.Settings.DEFAULT, LmdbCapsuleStorage.Durability.SYNC);
  }

  /**
   * {@link #start(HostConfig)} with the store's commits reaching the disk as {@code durability} says. For
   * benchmarks that compare at equal durability with systems that do not sync ({@code bench vs-hypercore} runs
   * {@link LmdbCapsuleStorage.Durability#NO_SYNC} beside the default): an unsynced host loses nothing when
   * its process dies, but may lose recent commits, ledger included, when the machine does. Not offered by
   * the daemon on purpose.
   */
  public static HostServer start(HostConfig config, LmdbCapsuleStorage.Durability durability) throws IOException {
    return start(config, Retention.Settings.DEFAULT, durability);
  }

  /**
   * Starts a host like {@link #start(HostConfig)} whose retention (docs/PROTOCOL.md, "Retention") runs
   * after commits with {@code retention}'s bounds and duration-unit length.
   */
  public static HostServer start(HostConfig config, Retention.Settings retention) throws IOException {
    return start(config, retention, LmdbCapsuleStorage.Durability.SYNC);
  }

  private static HostServer start(
      HostConfig config, Retention.Settings retention, LmdbCapsuleStorage.Durability durability) throws IOException {
    Objects.requireNonNull(durability, "durability");
    refuseExposedAdmin(config);
    DataDirectory data = DataDirectory.lock(config.dataDirectory());
    try {
      return start(config, retention, data, durability);
    } catch (IOException | RuntimeException e) {
      data.abandon(e);
      throw e;
    }
  }

  private static HostServer start(
      HostConfig config, Retention.Settings retentionSettings, DataDirectory data,
      LmdbCapsuleStorage.Durability durability)
      throws IOException {
    Path dir = config.dataDirectory();
    Path keyFile = data.made(HOST_KEY_FILE);
    Path tokenFile = data.made(ADMIN_TOKEN_FILE);
    Path storeDirectory = data.made(STORE_DIRECTORY);
    data.made(PriceTables.FILE);
    SigningKey hostKey = loadOrCreateKey(keyFile);
    String adminToken = loadOrCreateToken(tokenFile);
    List<AutoCloseable> opened = new ArrayList<>();
    try {
      ScheduledThreadPoolExecutor scheduler = new ScheduledThreadPoolExecutor(1, threads("capsulevm-timer"));
      scheduler.setRemoveOnCancelPolicy(true);
      opened.add(scheduler::shutdownNow);
      DataDirectory.createPrivateDirectories(storeDirectory);
      LmdbCapsuleStorage storage = LmdbCapsuleStorage.open(storeDirectory, LmdbCapsuleStorage.DEFAULT_MAP_SIZE,
          LmdbCapsuleStorage.DEFAULT_MAX_MAP_SIZE, LmdbCapsuleStorage.DEFAULT_MAX_READERS, durability);
      opened.add(storage);
      PriceTemplateStore templates = new PriceTemplateStore(dir);
      PriceTable saved = templates.loadOrNull();
      Prices prices = saved != null ? saved.prices() : PriceTables.defaultPrices();
      Limits limits = saved != null ? saved.limits()
          : new Limits(config.maxProgramBytes(), config.maxInstructions(), config.maxRecordBytes(),
              config.maxSubRecordsPerRecord(), config.maxConcurrentPrograms(), Amount.of(config.maxBalanceUnits()));
      // The ledger shares the store's LMDB environment, so a program's charge commits in the same
      // transaction as its writes; budgets of programs in flight are held in memory in front of it, at
      // most maxUncommittedRisk of them. The charges of programs that wrote nothing wait in the store's
      // settlement journal for the next commit, at most maxUncommittedRisk of them too.
      Ledger ledger = storage.ledger(config.clock(), limits.maxBalance(), Amount.of(config.maxUncommittedRiskUnits()));
      Reservations reservations = new Reservations(ledger, config.clock(), config.withdrawalWindow(),
          Amount.of(config.maxUncommittedRiskUnits()));
      PriceTables tables = PriceTables.keptIn(dir.resolve(PriceTables.FILE), hostKey, config.clock(),
          config.priceTableValidity(), prices, limits);
      tables.current();
      // Admission (HostContext.admit) bounds the programs in flight, so the pool never holds more
      // threads than the concurrency limit and never queues.
      ThreadPoolExecutor programPool = new ThreadPoolExecutor(0, Integer.MAX_VALUE, 30, TimeUnit.SECONDS,
          new SynchronousQueue<>(), threads("capsulevm-program"));
      opened.add(programPool::shutdownNow);
      Executor executor = new Executor(storage, config.clock(), config.commitTimeout(), config.dataTimeout(),
          WireSizes.OUTPUT_ENVELOPE_BYTES, hostKey, scheduler);
      TlsIdentity tls = config.tlsOrNull();
      Metrics metrics = new Metrics(config.metricsAddress(), config.metricsPort(), tls == null ? null : tls.sslContext());
      opened.add(metrics);
      HostContext ctx = new HostContext(config, hostKey, tables,
          new Cashier(reservations, hostKey.publicKey(), config.clock()), executor, programPool, scheduler,
          new RateLimiter(config.programsPerSecondPerAccount(), config.programBurstPerAccount()), metrics);
      Replicator replicator = new Replicator(storage, hostKey, config.replication(), config.clock(),
          metrics.registry);
      opened.add(replicator);
      // Runs after every commit that stores records, a program's or a sync session's.
      RetentionRunner retention = new RetentionRunner(
          new Retention(storage, new MemberCache(), config.clock(), retentionSettings));
      opened.add(retention);
      storage.onRecordsCommitted(retention::recordsCommitted);
      // Every port speaks TLS when the host has a certificate; each has its own health service naming
      // what that port serves, and reflection (v1 and v1alpha).
      ServerCredentials credentials = tls == null ? InsecureServerCredentials.create() : tls.serverCredentials();
      HealthStatusManager health = new HealthStatusManager();
      ServerServiceDefinition sync = replicator.service();
      // The transport hands each callback to CallLanes in its own thread, which runs an Execute call's
      // header and data there and everything else on callPool (what gRPC's default executor did); a
      // program stream routes its messages there, each program's in its own lane on callPool.
      ThreadPoolExecutor callPool = new ThreadPoolExecutor(0, Integer.MAX_VALUE, 30, TimeUnit.SECONDS,
          new SynchronousQueue<>(), threads("capsulevm-grpc"));
      opened.add(callPool::shutdownNow);
      Server server = withReflection(NettyServerBuilder
          .forAddress(new InetSocketAddress(config.address(), config.port()), credentials)
          .directExecutor()
          .intercept(new CallLanes(callPool))
          .maxInboundMessageSize(config.maxInboundMessageBytes())
          .addService(new HostService(ctx, callPool))
          .addService(sync)
          .addService(health.getHealthService()))
          .build()
          .start();
      opened.add(() -> server.shutdownNow());
      HealthStatusManager adminHealth = new HealthStatusManager();
      AdminService admin = new AdminService(ctx, templates, storage, replicator);
      Server adminServer = withReflection(NettyServerBuilder
          .forAddress(new InetSocketAddress(config.adminAddress(), config.adminPort()), credentials)
          .maxInboundMessageSize(config.maxInboundMessageBytes())
          .addService(ServerInterceptors.intercept(admin,
              new AdminService.TokenCheck(adminToken, ctx.events, metrics.adminRefused::inc)))
          .addService(adminHealth.getHealthService()))
          .build()
          .start();
      opened.add(() -> adminServer.shutdownNow());
      admin.listening(new AdminService.Where(config.address() + ":" + server.getPort(),
          config.adminAddress() + ":" + adminServer.getPort(),
          metrics.port() < 0 ? "" : config.metricsAddress() + ":" + metrics.port(), tls != null,
          dir.toAbsolutePath(), LmdbCapsuleStorage.DEFAULT_MAX_MAP_SIZE));
      for (String service : List.of("", HostGrpc.SERVICE_NAME, sync.getServiceDescriptor().getName())) {
        health.setStatus(service, ServingStatus.SERVING);
      }
      adminHealth.setStatus("", ServingStatus.SERVING);
      adminHealth.setStatus(AdminGrpc.SERVICE_NAME, ServingStatus.SERVING);
      // Renews the price table ahead of the renters; stopped with the scheduler by close().
      ScheduledFuture<?> unused = scheduler.scheduleWithFixedDelay(tables::current, 1, 1, TimeUnit.SECONDS);
      // Closes payment sessions past their expiry or idle too long, releasing their remainders.
      ScheduledFuture<?> unusedSweeps = scheduler.scheduleWithFixedDelay(() -> {
        try {
          ctx.sessions.sweep();
        } catch (RuntimeException e) {
          log.error("payment session sweep failed; the next runs in a second", e); // a throw would stop them
        }
      }, 1, 1, TimeUnit.SECONDS);
      replicator.start(scheduler);
      HostServer host = new HostServer(config, data, hostKey, adminToken, storage, ctx, server, adminServer,
          List.of(health, adminHealth), scheduler, programPool, callPool, metrics, replicator, retention);
      log.info("host {} serving on {}:{} (admin {}:{}, metrics {}), data in {}, {}", hostKey.publicKey(),
          config.address(), server.getPort(), config.adminAddress(), adminServer.getPort(),
          metrics.port() < 0 ? "off" : config.metricsAddress() + ":" + metrics.port(), dir,
          tls == null ? "plaintext" : tls);
      if (!config.replication().peers().isEmpty()) {
        log.info("sync sessions reach their peers over {}", config.replication().peerSecurity());
      }
      return host;
    } catch (IOException | RuntimeException e) {
      for (int i = opened.size() - 1; i >= 0; i--) {
        try {
          opened.get(i).close();
        } catch (Exception suppressed) {
          e.addSuppressed(suppressed);
        }
      }
      throw e;
    }
  }

  /**
   * Refuses an Admin service on an address that is not loopback (a wildcard address included) unless the
   * host has TLS: its bearer token would cross the network in the clear.
   */
  static void refuseExposedAdmin(HostConfig config) throws InsecureAdminException {
    if (config.tlsOrNull() != null) {
      return;
    }
    InetAddress address;
    try {
      address = InetAddress.getByName(config.adminAddress());
    } catch (UnknownHostException e) {
      return; // binding fails with its own message
    }
    if (!address.isLoopbackAddress()) {
      throw new InsecureAdminException(config.adminAddress());
    }
  }

  /** Server reflection, both versions clients still ask for (grpcurl, Postman, older tools: v1alpha). */
  @SuppressWarnings("deprecation") // ProtoReflectionService answers v1alpha, which grpc-java deprecates
  private static NettyServerBuilder withReflection(NettyServerBuilder builder) {
    return builder.addService(ProtoReflectionServiceV1.newInstance())
        .addService(io.grpc.protobuf.services.ProtoReflectionService.newInstance());
  }

  private static ThreadFactory threads(String prefix) {
    AtomicInteger n = new AtomicInteger();
    return r -> {
      Thread t = new Thread(r, prefix + "-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    };
  }

  private static SigningKey loadOrCreateKey(Path file) throws IOException {
    if (Files.exists(file)) {
      return KeyFile.read(file);
    }
    SigningKey key = SigningKey.generate();
    KeyFile.write(key, file);
    restrict(file);
    log.info("made a new host key {} in {}", key.publicKey(), file);
    return key;
  }

  private static String loadOrCreateToken(Path file) throws IOException {
    if (Files.exists(file)) {
      String token = Files.readString(file).trim();
      if (token.isEmpty()) {
        throw new IOException(file + " is empty; delete it to make a new admin token");
      }
      return token;
    }
    byte[] random = new byte[32];
    new SecureRandom().nextBytes(random);
    String token = HexFormat.of().formatHex(random);
    try {
      Files.createFile(file, PosixFilePermissions.asFileAttribute(
          Set.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE)));
    } catch (UnsupportedOperationException e) {
      Files.createFile(file);
    } catch (FileAlreadyExistsException e) {
      return loadOrCreateToken(file);
    }
    Files.writeString(file, token + "\n");
    return token;
  }

  private static void restrict(Path file) {
    try {
      Files.setPosixFilePermissions(file, Set.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE));
    } catch (UnsupportedOperationException | IOException e) {
      log.debug("could not restrict {}", file, e);
    }
  }

  /** The Host service's port. */
  public int port() {
    return server.getPort();
  }

  /** The Admin service's port. */
  public int adminPort() {
    return adminServer.getPort();
  }

  /** The metrics endpoint's port, or -1 when it is off. */
  public int metricsPort() {
    return metrics.port();
  }

  public PublicKey hostKey() {
    return hostKey.publicKey();
  }

  public String adminToken() {
    return adminToken;
  }

  public HostConfig config() {
    return config;
  }

  /** The host's store, for tools and tests that read it directly. */
  public ReplicaStore storage() {
    return storage;
  }

  /** This host's replication: sessions with peers on demand, and what it knows of each peer. */
  public Replicator replicator() {
    return replicator;
  }

  /**
   * How many programs hold a budget now (paid by a withdrawal or a session): zero once every program has
   * ended, its writes committed or discarded and its charge settled. What a test waits for before it reads
   * what a program the renter gave up on left behind.
   */
  public int programsInFlight() {
    return ctx.reservations.count();
  }

  /** The host's retention: what runs after commits, and what a test runs by hand. */
  public Retention retention() {
    return retention.retention();
  }

  /**
   * Graceful shutdown: health turns NOT_SERVING, sync sessions are cut (each only added verified records,
   * and the next one resumes), new programs are refused (UNAVAILABLE), program streams close (UNAVAILABLE)
   * as soon as their programs have ended; programs in flight get {@code
   * shutdownGrace} to finish (a pending commit to be decided); whatever is still running then is aborted
   * atomically (its staged writes discarded, its cost settled, the renter told UNAVAILABLE); then the
   * servers stop, payment sessions are forgotten (their remainders released) and the store (with the
   * ledger) is closed.
   */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    log.info("host shutting down");
    health.forEach(HealthStatusManager::enterTerminalState);
    ctx.closing = true;
    // A program stream outlives none of its programs, which are calls ended below: an idle one closes now
    // (UNAVAILABLE), a busy one after its last program's status, so none holds the server's shutdown up.
    for (ProgramStream stream : List.copyOf(ctx.streams)) {
      stream.shutdown();
    }
    // Sync sessions are cut at once: each only ever added verified records, and the next one resumes.
    replicator.close();
    adminServer.shutdown();
    server.shutdown();
    long deadline = System.nanoTime() + config.shutdownGrace().toNanos();
    while (!ctx.calls.isEmpty() && System.nanoTime() < deadline) {
      sleep(10);
    }
    for (ExecuteCall call : List.copyOf(ctx.calls)) {
      call.shutdown();
    }
    programPool.shutdown();
    try {
      if (!programPool.awaitTermination(5, TimeUnit.SECONDS)) {
        programPool.shutdownNow();
        programPool.awaitTermination(5, TimeUnit.SECONDS);
      }
      // The aborted calls have closed with their status; let those frames leave before cutting what is left
      // (shutdownNow resets open streams, which a renter would see as CANCELLED instead of UNAVAILABLE).
      if (!server.awaitTermination(2, TimeUnit.SECONDS)) {
        server.shutdownNow();
        server.awaitTermination(5, TimeUnit.SECONDS);
      }
      if (!adminServer.awaitTermination(2, TimeUnit.SECONDS)) {
        adminServer.shutdownNow();
        adminServer.awaitTermination(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    callPool.shutdownNow(); // the server has terminated: no call is left to run anything
    ctx.sessions.closeAll(); // nothing of a session is written: its remainder is its account's again
    scheduler.shutdownNow();
    retention.close();
    try {
      storage.close();
    } catch (RuntimeException e) {
      log.error("could not close the store", e);
    }
    try {
      metrics.close();
    } finally {
      data.close(); // the directory is free for the next host
    }
    log.info("host stopped");
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
