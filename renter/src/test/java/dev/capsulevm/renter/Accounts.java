package dev.capsulevm.renter;

import dev.capsulevm.host.server.TestHost;
import dev.capsulevm.pricing.Amount;
import dev.capsulevm.proofs.crypto.SigningKey;
import io.grpc.ClientInterceptor;
import java.util.List;

/** Funded renter accounts on a {@link TestHost}, funded through the SDK's own {@link AdminClient}. */
final class Accounts {
  private Accounts() {}

  /** A client for a new account funded with {@code cap} CAP. */
  static HostClient fundedClient(TestHost host, long cap, ClientInterceptor... interceptors) throws RenterException {
    return fundedClient(host, cap, RenterOptions.defaults().withInterceptors(List.of(interceptors)));
  }

  static HostClient fundedClient(TestHost host, long cap, RenterOptions options) throws RenterException {
    SigningKey account = SigningKey.generate();
    fund(host, account, cap);
    return HostClient.connect(host.address(), account, options);
  }

  static void fund(TestHost host, SigningKey account, long cap) throws RenterException {
    try (AdminClient admin = AdminClient.connect(host.adminAddress(), host.host.adminToken())) {
      admin.fund(account.publicKey(), Amount.ofCap(cap));
    }
  }
}
