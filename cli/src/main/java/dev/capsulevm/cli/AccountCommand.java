package dev.capsulevm.cli;

import dev.capsulevm.pricing.Amount;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.renter.AdminClient;
import dev.capsulevm.renter.HostClient;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code capsulevm account}: fund (operator, with the admin token) and balance. */
@Command(
    name = "account",
    mixinStandardHelpOptions = true,
    description = "The renter's prepaid account at a host.",
    subcommands = {AccountCommand.Fund.class, AccountCommand.Balance.class})
final class AccountCommand {
  @Command(name = "fund", mixinStandardHelpOptions = true,
      description = "Add units to an account through the host's Admin service (needs the admin token).")
  static final class Fund implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin RenterArgs args;

    @Option(names = "--amount", required = true, paramLabel = "UNITS", description = "Units to add (1 CAP = 1000000 units).")
    long amount;

    @Mixin AdminArgs adminArgs;

    @Override
    public Integer call() {
      Args.nonNegative(spec, "--amount", amount);
      return CapsuleCommand.guarded(() -> {
        String secret = adminArgs.token();
        SigningKey key = args.state().accountKey(args.accountKey);
        try (AdminClient client = adminArgs.connect(secret, args.tls)) {
          Amount balance = client.fund(key.publicKey(), Amount.of(amount));
          if (args.json) {
            System.out.println(new Json().put("account", key.publicKey().toHex()).put("balanceUnits", balance.units()));
          } else {
            System.out.println("account " + key.publicKey().toHex());
            System.out.println("balance " + balance);
          }
          return 0;
        }
      });
    }
  }

  @Command(name = "balance", mixinStandardHelpOptions = true, description = "The account's balance at the host.")
  static final class Balance implements Callable<Integer> {
    @Mixin RenterArgs args;

    @Override
    public Integer call() {
      return CapsuleCommand.guarded(() -> {
        try (HostClient client = args.connect()) {
          Amount balance = client.balance();
          if (args.json) {
            System.out.println(new Json().put("account", client.account().toHex()).put("balanceUnits", balance.units()));
          } else {
            System.out.println("account " + client.account().toHex());
            System.out.println("balance " + balance);
          }
          return 0;
        }
      });
    }
  }
}
