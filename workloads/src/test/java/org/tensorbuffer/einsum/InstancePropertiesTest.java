package org.tensorbuffer.einsum;

import java.time.Duration;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;

/**
 * Properties of {@link Instance#parse} and {@link Contraction#plan}: any truncation, character flip or extreme value
 * in a valid einsum-benchmark instance gives an instance (whose default path plans) or
 * {@link IllegalArgumentException} naming the source, never another exception, a hang or a large allocation.
 */
class InstancePropertiesTest {
    private static final String VALID = "{\"name\": \"t\", \"format_string\": \"ij,jk,kl->il\", "
            + "\"shapes\": [[2, 3], [3, 4], [4, 5]], \"dtype\": \"float64\", \"num_tensors\": 3, "
            + "\"paths\": {\"opt_flops\": {\"path\": [[0, 1], [0, 1]]}, \"opt_size\": {\"path\": [[1, 2], [0, 1]]}}}";

    private static void parseAndCheck(String json) throws Exception {
        ParserProperties.Outcome<Contraction> o = ParserProperties.run(() -> {
            Instance inst = Instance.parse(json, "prop.json");
            if (inst.pathNames().isEmpty()) {
                return null;
            }
            return Contraction.plan(inst, inst.pathNames().contains("opt_flops") ? "opt_flops"
                    : inst.pathNames().iterator().next());
        }, Duration.ofSeconds(5));
        ParserProperties.check(o, IllegalArgumentException.class, (8L << 20) + 64L * json.length());
        if (o.thrown() != null && !(o.thrown().getMessage().contains("prop.json")
                || o.thrown().getMessage().startsWith("instance "))) {
            throw new AssertionError("message does not name the source: " + o.thrown().getMessage());
        }
    }

    @Property(tries = 400)
    void truncations(@ForAll @IntRange(min = 0, max = 300) int cut) throws Exception {
        parseAndCheck(VALID.substring(0, Math.min(cut, VALID.length())));
    }

    @Property(tries = 600)
    void characterFlips(@ForAll @IntRange(min = 0, max = 10_000) int where, @ForAll @IntRange(min = 0, max = 6) int bit,
                        @ForAll @IntRange(min = 1, max = 3) int flips) throws Exception {
        char[] c = VALID.toCharArray();
        for (int i = 0; i < flips; i++) {
            int at = (where + i * 131) % c.length;
            c[at] = (char) (c[at] ^ (1 << ((bit + i) % 7)));
        }
        parseAndCheck(new String(c));
    }

    @Provide
    Arbitrary<String> extremes() {
        return Arbitraries.of("0", "-1", "9223372036854775807", "-9223372036854775808", "4294967296", "1e300",
                "99999999999999999999999", "1.5", "null", "\"3\"", "[]", "{}", "true", "2147483648");
    }

    @Property(tries = 300)
    void extremeValues(@ForAll("extremes") String value, @ForAll @IntRange(min = 0, max = 13) int slot)
            throws Exception {
        // replace the slot-th number of the valid instance (a dimension, num_tensors or a path index)
        StringBuilder b = new StringBuilder();
        int seen = 0;
        for (int i = 0; i < VALID.length(); i++) {
            char ch = VALID.charAt(i);
            if (Character.isDigit(ch) && (i == 0 || !Character.isDigit(VALID.charAt(i - 1)))) {
                int j = i;
                while (j < VALID.length() && Character.isDigit(VALID.charAt(j))) {
                    j++;
                }
                b.append(seen++ == slot ? value : VALID, seen - 1 == slot ? 0 : i, seen - 1 == slot
                        ? value.length() : j);
                i = j - 1;
            } else {
                b.append(ch);
            }
        }
        parseAndCheck(b.toString());
    }
}
