package dev.capsulevm.host.server;

import com.google.protobuf.ByteString;
import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.PriceTable;
import dev.capsulevm.pricing.PricingException;
import dev.capsulevm.pricing.SignedPriceTable;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proto.v1.AdminGrpc;
import dev.capsulevm.proto.v1.BalanceResponse;
import dev.capsulevm.proto.v1.FundRequest;
import dev.capsulevm.proto.v1.PriceTableResponse;
import dev.capsulevm.proto.v1.SetPricesRequest;
import dev.capsulevm.proto.v1.StatusRequest;
import dev.capsulevm.proto.v1.StatusResponse;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The operator's service: funding, status, prices. Every call must carry the admin token. */
final class AdminService extends AdminGrpc.AdminImplBase {
  private static final Logger log = LoggerFactory.getLogger(AdminService.class);
  static final String VERSION = "0.1.0";

  private final HostContext ctx;
  private final PriceTemplateStore templates;

  AdminService(HostContext ctx, PriceTemplateStore templates) {
    this.ctx = ctx;
    this.templates = templates;
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
      responses.onError(Statuses.of(e.reason()).withDescription(e.getMessage()).asRuntimeException());
      return;
    }
    log.info("funded {} with {} units", account, request.getAmount());
    responses.onNext(BalanceResponse.newBuilder().setAccount(request.getAccount())
        .setBalance(ctx.ledger.balance(account).units()).build());
    responses.onCompleted();
  }

  @Override
  public void status(StatusRequest request, StreamObserver<StatusResponse> responses) {
    responses.onNext(StatusResponse.newBuilder()
        .setHostKey(ByteString.copyFrom(ctx.hostKey.publicKey().toByteArray()))
        .setVersion(VERSION)
        .setSignedPriceTable(ByteString.copyFrom(ctx.tables.current().encode()))
        .setCapsules(0)
        .setProgramsRun(ctx.programsRun.get())
        .setProgramsRunning(ctx.running.get())
        .setUptimeSeconds(TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - ctx.startedNanos))
        .build());
    responses.onCompleted();
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

    TokenCheck(String token) {
      this.expected = ("Bearer " + token).getBytes(StandardCharsets.US_ASCII);
    }

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
        ServerCallHandler<Q, R> next) {
      String given = headers.get(AUTHORIZATION);
      if (given == null || !MessageDigest.isEqual(expected, given.getBytes(StandardCharsets.US_ASCII))) {
        call.close(Status.UNAUTHENTICATED.withDescription(given == null
            ? "the Admin service needs the metadata header authorization: Bearer <token of admin.token>"
            : "wrong admin token"), new Metadata());
        return new ServerCall.Listener<>() { };
      }
      return next.startCall(call, headers);
    }
  }
}
