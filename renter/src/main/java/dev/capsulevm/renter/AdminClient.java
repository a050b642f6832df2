package dev.capsulevm.renter;

import com.google.protobuf.ByteString;
import dev.capsulevm.pricing.Amount;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proto.v1.AdminGrpc;
import dev.capsulevm.proto.v1.FundRequest;
import dev.capsulevm.proto.v1.StatusRequest;
import dev.capsulevm.proto.v1.StatusResponse;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.MetadataUtils;
import java.util.concurrent.TimeUnit;

/**
 * The operator's side: funding accounts and reading the host's status over the {@code Admin} service,
 * each call carrying {@code authorization: Bearer <token>} (the token the host keeps in its data
 * directory).
 */
public final class AdminClient implements AutoCloseable {
  private static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  private final ManagedChannel channel;
  private final AdminGrpc.AdminBlockingStub stub;

  private AdminClient(ManagedChannel channel, String token) {
    this.channel = channel;
    Metadata headers = new Metadata();
    headers.put(AUTHORIZATION, "Bearer " + token);
    this.stub = AdminGrpc.newBlockingStub(channel).withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers));
  }

  /** Connects to the admin endpoint at {@code address} ("host:port") with {@code token}. */
  public static AdminClient connect(String address, String token) {
    return new AdminClient(NettyChannelBuilder.forTarget(address).usePlaintext().build(), token);
  }

  /** Adds {@code amount} to {@code account}; returns the new balance. */
  public Amount fund(PublicKey account, Amount amount) throws RenterException {
    try {
      return Amount.of(stub.withDeadlineAfter(10, TimeUnit.SECONDS).fund(FundRequest.newBuilder()
          .setAccount(ByteString.copyFrom(account.toByteArray())).setAmount(amount.units()).build()).getBalance());
    } catch (StatusRuntimeException e) {
      throw new RenterException("funding failed: " + e.getStatus(), e);
    }
  }

  /** The host's key, version, counters and current price table. */
  public StatusResponse status() throws RenterException {
    try {
      return stub.withDeadlineAfter(10, TimeUnit.SECONDS).status(StatusRequest.getDefaultInstance());
    } catch (StatusRuntimeException e) {
      throw new RenterException("status failed: " + e.getStatus(), e);
    }
  }

  @Override
  public void close() {
    Channels.close(channel);
  }
}
