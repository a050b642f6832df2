package dev.capsulevm.host.server;

import com.google.protobuf.ByteString;
import dev.capsulevm.host.replication.Replicator;
import dev.capsulevm.host.replication.SyncSession;
import dev.capsulevm.host.store.LmdbCapsuleStorage;
import dev.capsulevm.host.store.ReplicaStore;
import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.PriceTable;
import dev.capsulevm.pricing.PricingException;
import dev.capsulevm.pricing.SignedPriceTable;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proto.v1.AdminGrpc;
import dev.capsulevm.proto.v1.BalanceResponse;
import dev.capsulevm.proto.v1.FundRequest;
import dev.capsulevm.proto.v1.PeerStatus;
import dev.capsulevm.proto.v1.PriceTableResponse;
import dev.capsulevm.proto.v1.SetPricesRequest;
import dev.capsulevm.proto.v1.StatusRequest;
import dev.capsulevm.proto.v1.StatusResponse;
import dev.capsulevm.proto.v1.SyncNowRequest;
import dev.capsulevm.proto.v1.SyncOutcome;
import dev.capsulevm.proto.v1.SyncProgress;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.event.Level;

/** The operator's service: funding, status, prices, sync. Every call must carry the admin token. */
final class AdminService extends AdminGrpc.AdminImplBase {
  private static final Logger log = LoggerFactory.getLogger(AdminService.class);
  static final String VERSION = "0.1.0";

  private final HostContext ctx;
  private final PriceTemplateStore templates;
  private final ReplicaStore storage;
  private final Replicator replicator;
  /** Where the host listens, set once its ports are bound; null until then. */
  private final AtomicReference<@Nullable Where> where = new AtomicReference<>();

  /**
   * Where the host listens and keeps its data, as {@code Status} reports it.
   *
   * @param metricsAddress host:port, or empty when the endpoint is off
   * @param maxMapBytes the most the store's map may grow to
   */
  record Where(String address, String adminAddress, String metricsAddress, boolean tls, Path dataDirectory,
      long maxMapBytes) {}

  AdminService(HostContext ctx, PriceTemplateStore templates, ReplicaStore storage, Replicator replicator) {
    this.ctx = ctx;
    this.templates = templates;
    this.storage = storage;
    this.replicator = replicator;
  }

  /** Sets where the host listens, once its ports are bound. */
  void listening(Where bound) {
    where.set(bound);
  }

  @Override
  public void fund(FundRequest request, StreamObserver<BalanceResponse> responses) {
    PublicKey account = HostService.account(request.getAccount(), responses);
    if (account == null) {
      return;
    }
    if (request.getAmount() <= 0) {
      responses.onError(Status.INVALID_ARGUMENT.withDescription("amount must be 1 to 2^63 - 1 units, got "
          + Long.toUnsignedString(request.getAmount())).asRuntimeException());
      return;
    }
    try {
      ctx.ledger.deposit(account, Amount.of(request.getAmount()));
    } catch (PricingException e) {
      responses.onError(EndReason.of(e.reason()).status(e.getMessage()).asRuntimeException());
      return;
    }
    log.info("funded {} with {} units", account, request.getAmount());
    responses.onNext(HostService.balanceResponse(ctx, account));
    responses.onCompleted();
  }

  @Override
  public void status(StatusRequest request, StreamObserver<StatusResponse> responses) {
    StatusResponse.Builder status = StatusResponse.newBuilder();
    Where bound = where.get();
    if (bound != null) {
      Path dataFile = bound.dataDirectory().resolve(HostServer.STORE_DIRECTORY).resolve("data.mdb");
      long storeBytes;
      try {
        storeBytes = Files.size(dataFile);
      } catch (IOException e) {
        storeBytes = 0; // not made yet, or unreadable: the status still answers
      }
      status.setAddress(bound.address()).setAdminAddress(bound.adminAddress())
          .setMetricsAddress(bound.metricsAddress()).setTls(bound.tls())
          .setDataDirectory(bound.dataDirectory().toString()).setStoreBytes(storeBytes)
          .setStoreMaxMapBytes(bound.maxMapBytes());
      if (storage instanceof LmdbCapsuleStorage lmdb) {
        status.setStoreMapBytes(lmdb.mapSize());
      }
    }
    responses.onNext(status
        .setHostKey(ByteString.copyFrom(ctx.hostKey.publicKey().toByteArray()))
        .setVersion(VERSION)
        .setSignedPriceTable(ByteString.copyFrom(ctx.tables.current().encode()))
        .setCapsules(storage.capsuleCount())
        .setProgramsRun(ctx.programsRun.get())
        .setProgramsRunning(ctx.slots.running())
        .setUptimeSeconds(TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - ctx.startedNanos))
        .addAllPeers(replicator.peers().stream().map(AdminService::peerStatus).toList())
        .build());
    responses.onCompleted();
  }

  private static PeerStatus peerStatus(Replicator.PeerState p) {
    PeerStatus.Builder status = PeerStatus.newBuilder();
    if (p.key() != null) {
      status.setKey(ByteString.copyFrom(p.key().toByteArray()));
    }
    return status.setAddress(p.address())
        .setLastSessionEpochMillis(p.lastSession() == null ? 0 : p.lastSession().toEpochMilli())
        .setLastOutcome(p.lastOutcomeOrNull() == null ? SyncOutcome.SYNC_OUTCOME_UNSPECIFIED : p.lastOutcomeOrNull().wire())
        .setLastError(p.lastError()).setLastBytes(p.lastBytes())
        .setLastRecords(p.lastRecords()).setSessions(p.sessions()).setFailures(p.failures())
        .setBackoffUntilEpochMillis(p.backoffUntil() == null ? 0 : p.backoffUntil().toEpochMilli()).build();
  }

  /**
   * Runs sessions with the peer on a session thread of its own (a session can take a while), streaming
   * one progress message per turn and one per session end.
   */
  @Override
  public void syncNow(SyncNowRequest request, StreamObserver<SyncProgress> responses) {
    Hash capsule = null;
    if (!request.getCapsule().isEmpty()) {
      if (request.getCapsule().size() != Hash.LENGTH) {
        responses.onError(Status.INVALID_ARGUMENT.withDescription("capsule must be 32 bytes, got "
            + request.getCapsule().size()).asRuntimeException());
        return;
      }
      capsule = Hash.copyOf(request.getCapsule().toByteArray());
    }
    if (request.getPeer().isBlank()) {
      responses.onError(Status.INVALID_ARGUMENT.withDescription("peer must be host:port").asRuntimeException());
      return;
    }
    try {
      Replicator.Peer.parse(request.getPeer());
    } catch (IllegalArgumentException e) {
      responses.onError(Status.INVALID_ARGUMENT.withDescription("peer must be [KEY@]HOST:PORT: " + e.getMessage())
          .asRuntimeException());
      return;
    }
    Hash only = capsule;
    Thread worker = new Thread(() -> {
      try {
        replicator.syncNow(request.getPeer(), only, new Replicator.ProgressListener() {
          @Override
          public void progress(Hash c, int index, int count, SyncSession.Progress p) {
            responses.onNext(progressOf(c, index, count, p).build());
          }

          @Override
          public void ended(Hash c, int index, int count, Replicator.SessionResult result) {
            SyncProgress.Builder b = result.progress() == null
                ? SyncProgress.newBuilder().setCapsule(ByteString.copyFrom(c.toByteArray()))
                    .setCapsuleIndex(index).setCapsuleCount(count)
                : progressOf(c, index, count, result.progress());
            responses.onNext(b.setPhase("done").setOutcome(result.outcome().wire()).setError(result.error()).build());
          }
        });
        responses.onCompleted();
      } catch (RuntimeException e) {
        log.error("SyncNow with {} failed", request.getPeer(), e);
        responses.onError(Status.INTERNAL.withDescription(e.getMessage()).asRuntimeException());
      }
    }, "capsulevm-sync-now");
    worker.setDaemon(true);
    worker.start();
  }

  private static SyncProgress.Builder progressOf(Hash capsule, int index, int count, SyncSession.Progress p) {
    return SyncProgress.newBuilder().setCapsule(ByteString.copyFrom(capsule.toByteArray()))
        .setCapsuleIndex(index).setCapsuleCount(count).setPhase(p.phase()).setBytesSent(p.bytesSent())
        .setBytesReceived(p.bytesReceived()).setRecordsReceived(p.recordsReceived())
        .setRecordsSent(p.recordsSent()).setRoundTrips(p.roundTrips());
  }

  @Override
  public void setPrices(SetPricesRequest request, StreamObserver<PriceTableResponse> responses) {
    PriceTable template;
    try {
      template = PriceTable.parseBody(request.getPriceTableTemplate().toByteArray());
    } catch (VerificationException e) {
      responses.onError(Status.INVALID_ARGUMENT.withDescription("price_table_template: " + e.getMessage())
          .asRuntimeException());
      return;
    }
    SignedPriceTable signed = ctx.tables.replace(template.prices(), template.limits());
    try {
      templates.save(signed.table());
    } catch (IOException e) {
      log.error("the new prices are in force but could not be saved", e);
    }
    log.info("new price table {}", signed.table().id());
    responses.onNext(PriceTableResponse.newBuilder().setSignedPriceTable(ByteString.copyFrom(signed.encode())).build());
    responses.onCompleted();
  }

  /** Refuses calls without {@code authorization: Bearer <token>} (compared in constant time). */
  static final class TokenCheck implements ServerInterceptor {
    static final Metadata.Key<String> AUTHORIZATION =
        Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
    private final byte[] expected;
    private final LogLimiter events;
    private final Runnable count;

    /**
     * @param events where a refused call is logged (rate-limited)
     * @param count counts a refused call (the metric)
     */
    TokenCheck(String token, LogLimiter events, Runnable count) {
      this.expected = ("Bearer " + token).getBytes(StandardCharsets.US_ASCII);
      this.events = events;
      this.count = count;
    }

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
        ServerCallHandler<Q, R> next) {
      String given = headers.get(AUTHORIZATION);
      if (given == null || !MessageDigest.isEqual(expected, given.getBytes(StandardCharsets.US_ASCII))) {
        String why = given == null
            ? "the Admin service needs the metadata header authorization: Bearer <token of admin.token>"
            : "wrong admin token";
        count.run();
        events.log(Level.WARN, "admin token", call.getMethodDescriptor().getFullMethodName() + " from "
            + call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR) + " refused, UNAUTHENTICATED: " + why);
        call.close(Status.UNAUTHENTICATED.withDescription(why), new Metadata());
        return new ServerCall.Listener<>() { };
      }
      return next.startCall(call, headers);
    }
  }
}
