/**
 * Prices, the cost model, budgets and metering, accounts, receipts and signed withdrawals.
 */
@NullMarked
package dev.capsulevm.pricing;

import org.jspecify.annotations.NullMarked;
