package dev.capsulevm.renter;

import com.google.protobuf.ByteString;
import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.PriceTable;
import dev.capsulevm.pricing.PricingException;
import dev.capsulevm.pricing.SignedPriceTable;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proto.tls.ChannelSecurity;
import dev.capsulevm.proto.v1.AdminGrpc;
import dev.capsulevm.proto.v1.FundRequest;
import dev.capsulevm.proto.v1.PriceTableResponse;
import dev.capsulevm.proto.v1.SetPricesRequest;
import dev.capsulevm.proto.v1.StatusRequest;
import dev.capsulevm.proto.v1.StatusResponse;
import dev.capsulevm.proto.v1.SyncNowRequest;
import io.grpc.Context;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.MetadataUtils;
import java.time.Clock;
import java.time.Duration;
import java.util.Arrays;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * The operator's side: funding accounts, reading the host's status, setting its prices and running sync
 * sessions with a peer now, over the {@code Admin} service, each call carrying {@code authorization: Bearer <token>} (the token the host keeps in its data
 * directory).
 */
public final class AdminClient implements AutoCloseable {
  private static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  private final ManagedChannel channel;
  private final AdminGrpc.AdminBlockingStub stub;
  private final Duration callDeadline;

  private AdminClient(ManagedChannel channel, String token, Duration callDeadline) {
    this.channel = channel;
    this.callDeadline = callDeadline;
    Metadata headers = new Metadata();
    headers.put(AUTHORIZATION, "Bearer " + token);
    this.stub = AdminGrpc.newBlockingStub(channel).withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers));
  }

  /**
   * Connects to the admin endpoint at {@code address} ("host:port") with {@code token}; {@code fund} and
   * {@code status} wait at most {@link RenterOptions.Deadlines#DEFAULT}'s call deadline (10 s).
   */
  public static AdminClient connect(String address, String token) {
    return connect(address, token, RenterOptions.Deadlines.DEFAULT.call());
  }

  /** Connects like {@link #connect(String, String)}, each unary call waiting at most {@code callDeadline}. */
  public static AdminClient connect(String address, String token, Duration callDeadline) {
    return connect(address, token, callDeadline, ChannelSecurity.plaintext());
  }

  /**
   * Connects like {@link #connect(String, String, Duration)} over {@code security}: TLS verifying the
   * host's certificate (required when the admin port is not on loopback), or plaintext.
   */
  public static AdminClient connect(String address, String token, Duration callDeadline, ChannelSecurity security) {
    if (callDeadline.isNegative() || callDeadline.isZero()) {
      throw new IllegalArgumentException("the call deadline is positive: " + callDeadline);
    }
    return new AdminClient(NettyChannelBuilder.forTarget(address, security.credentials()).build(), token,
        callDeadline);
  }

  /** Adds {@code amount} to {@code account}; returns the new balance. */
  public Amount fund(PublicKey account, Amount amount) throws RenterException {
    try {
      return Amount.of(stub.withDeadlineAfter(callDeadline.toNanos(), TimeUnit.NANOSECONDS).fund(FundRequest.newBuilder()
          .setAccount(ByteString.copyFrom(account.toByteArray())).setAmount(amount.units()).build()).getBalance());
    } catch (StatusRuntimeException e) {
      throw new RenterException("funding failed: " + Channels.describe(e), e);
    }
  }

  /** The host's key, version, counters and current price table. */
  public StatusResponse status() throws RenterException {
    try {
      return stub.withDeadlineAfter(callDeadline.toNanos(), TimeUnit.NANOSECONDS).status(StatusRequest.getDefaultInstance());
    } catch (StatusRuntimeException e) {
      throw new RenterException("status failed: " + Channels.describe(e), e);
    }
  }

  /**
   * The price table of a status answer, verified: it parses, carries the signature of the host key it
   * names, which must be the status's own, and the clock lies in its window.
   */
  public static PriceTable priceTable(StatusResponse status) throws RenterException {
    return verifiedTable(status.getSignedPriceTable().toByteArray(), status.getHostKey().toByteArray());
  }

  /**
   * Replaces the host's prices and limits ({@code Admin.SetPrices}) with those of {@code template} (its host
   * key and window are the host's to set) and returns the table the host signed and now publishes,
   * verified like {@link #priceTable}: signed by the same host key as the table it replaced.
   */
  public PriceTable setPrices(PriceTable template) throws RenterException {
    byte[] hostKey = status().getHostKey().toByteArray();
    PriceTableResponse response;
    try {
      response = stub.withDeadlineAfter(callDeadline.toNanos(), TimeUnit.NANOSECONDS).setPrices(
          SetPricesRequest.newBuilder().setPriceTableTemplate(ByteString.copyFrom(template.body())).build());
    } catch (StatusRuntimeException e) {
      throw new RenterException("setting the prices failed: " + Channels.describe(e), e);
    }
    return verifiedTable(response.getSignedPriceTable().toByteArray(), hostKey);
  }

  private static PriceTable verifiedTable(byte[] signed, byte[] hostKey) throws RenterException {
    PriceTable table;
    try {
      table = SignedPriceTable.parse(signed).verify(Clock.systemUTC());
    } catch (VerificationException | PricingException e) {
      throw new HostMisbehaviourException(HostMisbehaviourException.Part.PRICE_TABLE, -1,
          "the host's price table does not verify: " + e.getMessage(), e);
    }
    if (!Arrays.equals(table.hostKey().toByteArray(), hostKey)) {
      throw new HostMisbehaviourException(HostMisbehaviourException.Part.PRICE_TABLE, -1,
          "the price table is signed by " + table.hostKey() + ", not by the host's key");
    }
    return table;
  }

  /** The sync peers of a status answer, each with its last session. */
  public static List<PeerStatus> peers(StatusResponse status) throws RenterException {
    List<PeerStatus> out = new ArrayList<>();
    for (dev.capsulevm.proto.v1.PeerStatus peer : status.getPeersList()) {
      try {
        out.add(PeerStatus.from(peer));
      } catch (IllegalArgumentException e) {
        throw new RenterException("the host's status names peer " + peer.getAddress() + " malformed: "
            + e.getMessage(), e);
      }
    }
    return out;
  }

  /**
   * Has the host run sync sessions with {@code peer} now ({@code Admin.SyncNow}): with one capsule, or
   * with every capsule it holds when {@code capsuleOrNull} is null. Blocks until the host ends the
   * stream (no deadline: a session lasts as long as its records take), handing every progress report
   * to {@code progress} in this thread. If {@code progress} throws, the call is cancelled and the
   * exception propagates.
   *
   * @param peer the peer's public address, "host:port"
   * @return the last report of every session, in order (each carries its outcome)
   * @throws RenterException when the call fails, a report does not parse, or the stream ends while a
   *     session is still running
   */
  public List<SyncProgress> syncNow(String peer, @Nullable Hash capsuleOrNull, Consumer<SyncProgress> progress)
      throws RenterException {
    Objects.requireNonNull(progress, "progress");
    if (Objects.requireNonNull(peer, "peer").isBlank()) {
      throw new IllegalArgumentException("the peer address is blank");
    }
    SyncNowRequest.Builder request = SyncNowRequest.newBuilder().setPeer(peer);
    if (capsuleOrNull != null) {
      request.setCapsule(ByteString.copyFrom(capsuleOrNull.toByteArray()));
    }
    List<SyncProgress> ended = new ArrayList<>();
    SyncProgress last = null;
    // The blocking iterator's call belongs to this context, so cancelling it ends a call left early.
    Context.CancellableContext context = Context.current().withCancellation();
    Context previous = context.attach();
    try {
      Iterator<dev.capsulevm.proto.v1.SyncProgress> reports = stub.syncNow(request.build());
      while (reports.hasNext()) {
        SyncProgress report;
        try {
          report = SyncProgress.from(reports.next());
        } catch (IllegalArgumentException e) {
          throw new RenterException("the host sent a malformed sync progress: " + e.getMessage(), e);
        }
        progress.accept(report);
        if (report.ended()) {
          ended.add(report);
        }
        last = report;
      }
    } catch (StatusRuntimeException e) {
      throw new RenterException("sync with " + peer + " failed: " + Channels.describe(e), e);
    } finally {
      context.detach(previous);
      context.cancel(null);
    }
    if (last != null && !last.ended()) {
      throw new RenterException("the host ended the sync before session " + (last.capsuleIndex() + 1) + " of "
          + last.capsuleCount() + " ended");
    }
    return ended;
  }

  @Override
  public void close() {
    Channels.close(channel);
  }
}
