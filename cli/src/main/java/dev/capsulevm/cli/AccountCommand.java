package dev.capsulevm.cli;

import dev.capsulevm.pricing.Amount;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.renter.AdminClient;
import dev.capsulevm.renter.HostClient;
import dev.capsulevm.renter.access.AccessException;
import dev.capsulevm.renter.access.MemberCard;
import java.util.concurrent.Callable;
import org.jspecify.annotations.Nullable;
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
      description = "Add units to an account through the host's Admin service (needs the admin token): this renter's"
          + " own account, or with --public-key anyone's, by its public key alone.")
  static final class Fund implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin RenterArgs args;

    @Option(names = "--amount", required = true, paramLabel = "UNITS", description = "Units to add (1 CAP = 1000000 units).")
    long amount;

    @Option(names = "--public-key", paramLabel = "KEY",
        description = "Fund this account instead of this renter's: its public key in 64 hex digits (what 'keys public'"
            + " prints of its account.pem, and 'key card --json' as identity), or its member card (cvm-member1:...).")
    @Nullable String publicKey;

    @Mixin AdminArgs adminArgs;

    @Override
    public Integer call() {
      Args.nonNegative(spec, "--amount", amount);
      if (publicKey != null && args.accountKey != null) {
        throw Args.usage(spec, "--public-key names the account to fund; --account-key another: give one");
      }
      PublicKey given = publicKey == null ? null : account(spec, publicKey);
      return CapsuleCommand.guarded(() -> {
        String secret = adminArgs.token();
        PublicKey account = given != null ? given : args.state().accountKey(args.accountKey).publicKey();
        try (AdminClient client = adminArgs.connect(secret, args.tls)) {
          Amount balance = client.fund(account, Amount.of(amount));
          if (args.json) {
            System.out.println(new Json().put("account", account.toHex()).put("balanceUnits", balance.units()));
          } else {
            System.out.println("account " + account.toHex());
            System.out.println("balance " + balance);
          }
          return 0;
        }
      });
    }

    /** An account's public key from 64 hex digits or a member card (its identity). */
    static PublicKey account(CommandSpec spec, String text) {
      String t = text.strip();
      if (t.startsWith(MemberCard.PREFIX)) {
        try {
          return MemberCard.parse(t).identity();
        } catch (AccessException e) {
          throw Args.usage(spec, "--public-key: not a member card: " + e.getMessage());
        }
      }
      byte[] bytes = Args.hex(spec, "--public-key", t);
      try {
        return PublicKey.copyOf(bytes);
      } catch (IllegalArgumentException e) {
        throw Args.usage(spec, "--public-key: not an Ed25519 public key (64 hex digits): " + e.getMessage());
      }
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
