package dev.capsulevm.host.server;

import com.google.protobuf.ByteString;
import dev.capsulevm.pricing.BalanceStatement;
import dev.capsulevm.pricing.SignedBalanceStatement;
import dev.capsulevm.pricing.SignedSessionGrant;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proto.v1.BalanceRequest;
import dev.capsulevm.proto.v1.BalanceResponse;
import dev.capsulevm.proto.v1.CloseSessionRequest;
import dev.capsulevm.proto.v1.CloseSessionResponse;
import dev.capsulevm.proto.v1.ExecuteRequest;
import dev.capsulevm.proto.v1.ExecuteResponse;
import dev.capsulevm.proto.v1.GetPriceTableRequest;
import dev.capsulevm.proto.v1.HostGrpc;
import dev.capsulevm.proto.v1.OpenSessionRequest;
import dev.capsulevm.proto.v1.OpenSessionResponse;
import dev.capsulevm.proto.v1.PriceTableResponse;
import dev.capsulevm.proto.v1.StreamRequest;
import dev.capsulevm.proto.v1.StreamResponse;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.stub.StreamObserver;
import java.util.concurrent.Executor;
import org.jspecify.annotations.Nullable;

/**
 * The renter-facing service: price table, balances (signed statements), payment sessions, programs (one per
 * Execute call, or many on a program stream).
 */
final class HostService extends HostGrpc.HostImplBase {
  private final HostContext ctx;
  /** Where a program stream's programs run their callbacks that may not run in the transport's thread. */
  private final Executor callPool;

  HostService(HostContext ctx, Executor callPool) {
    this.ctx = ctx;
    this.callPool = callPool;
  }

  @Override
  public void getPriceTable(GetPriceTableRequest request, StreamObserver<PriceTableResponse> responses) {
    responses.onNext(PriceTableResponse.newBuilder()
        .setSignedPriceTable(ByteString.copyFrom(ctx.tables.current().encode())).build());
    responses.onCompleted();
  }

  @Override
  public void getBalance(BalanceRequest request, StreamObserver<BalanceResponse> responses) {
    PublicKey account = account(request.getAccount(), responses);
    if (account == null) {
      return;
    }
    responses.onNext(balanceResponse(ctx, account));
    responses.onCompleted();
  }

  /**
   * The account's balance as the host signs it now ({@link BalanceStatement#of}): the statement, and its
   * account and balance in fields 1 and 2 for readers that do not check it.
   */
  static BalanceResponse balanceResponse(HostContext ctx, PublicKey account) {
    SignedBalanceStatement signed =
        BalanceStatement.of(ctx.ledger, account, ctx.hostKey.publicKey(), ctx.config.clock()).sign(ctx.hostKey);
    return BalanceResponse.newBuilder()
        .setAccount(ByteString.copyFrom(account.toByteArray()))
        .setBalance(signed.statement().balance().units())
        .setSignedStatement(ByteString.copyFrom(signed.encode()))
        .build();
  }

  @Override
  public void openSession(OpenSessionRequest request, StreamObserver<OpenSessionResponse> responses) {
    SignedSessionGrant grant;
    try {
      grant = ctx.sessions.open(request.getSignedSessionRequest());
    } catch (StatusException e) {
      ctx.metrics.errors.labelValues(e.getStatus().getCode().name()).inc();
      responses.onError(e);
      return;
    }
    responses.onNext(OpenSessionResponse.newBuilder()
        .setSignedSessionGrant(ByteString.copyFrom(grant.encode())).build());
    responses.onCompleted();
  }

  @Override
  public void closeSession(CloseSessionRequest request, StreamObserver<CloseSessionResponse> responses) {
    CloseSessionResponse closed;
    try {
      closed = ctx.sessions.close(request.getSessionId(), request.getMac());
    } catch (StatusException e) {
      ctx.metrics.errors.labelValues(e.getStatus().getCode().name()).inc();
      responses.onError(e);
      return;
    }
    responses.onNext(closed);
    responses.onCompleted();
  }

  @Override
  public StreamObserver<ExecuteRequest> execute(StreamObserver<ExecuteResponse> responses) {
    return new ExecuteCall(ctx, new CallResponses(responses));
  }

  @Override
  public StreamObserver<StreamRequest> executeStream(StreamObserver<StreamResponse> responses) {
    return new ProgramStream(ctx, responses, callPool);
  }

  /** The account named by {@code bytes}, or null after answering INVALID_ARGUMENT. */
  static @Nullable PublicKey account(ByteString bytes, StreamObserver<?> responses) {
    try {
      return PublicKey.copyOf(bytes.toByteArray());
    } catch (IllegalArgumentException e) {
      responses.onError(Status.INVALID_ARGUMENT.withDescription("account: " + e.getMessage()).asRuntimeException());
      return null;
    }
  }
}
