// JavaRef: java.util.regex, the engine Flink's REGEXP_EXTRACT uses (SqlFunctionUtils.regexpExtract:
// Pattern.compile(regex).matcher(str); if (m.find()) return m.toMatchResult().group(index)).
// A reference for regex_bench, not a candidate for sluice.
//
//   java -cp build JavaRef checks CASES           one line per case: "text", NULL or error: ...
//   java -cp build JavaRef urls FILE N ROUNDS CAP  q21 extraction over the first N urls (one
//                                                 warm-up pass, then ROUNDS), then ^(a+)+$ on
//                                                 "a"*n + "b" with a CAP-second deadline
import java.io.BufferedReader;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.MatchResult;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

public class JavaRef {
    static final String Q21 = "(&|^)channel_id=([^&]*)";
    static final String BT = "^(a+)+$";
    static final ThreadMXBean MX = ManagementFactory.getThreadMXBean();

    static String extract(Pattern p, CharSequence s, int g) {
        Matcher m = p.matcher(s);
        if (m.find()) {
            MatchResult mr = m.toMatchResult();
            return g <= mr.groupCount() ? mr.group(g) : null;
        }
        return null;
    }

    static String show(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x20 || c == '|') b.append(String.format("\\x%02X", (int) c));
            else b.append(c);
        }
        return b.append('"').toString();
    }

    static void checks(String file) throws Exception {
        java.io.PrintStream out = new java.io.PrintStream(System.out, true, "UTF-8");
        for (String line : Files.readAllLines(Paths.get(file), StandardCharsets.UTF_8)) {
            if (line.isEmpty() || line.startsWith("#")) continue;
            String[] f = line.split("\t", -1);
            String r;
            try {
                String x = extract(Pattern.compile(f[0]), f[1], Integer.parseInt(f[2]));
                r = x == null ? "NULL" : show(x);
            } catch (PatternSyntaxException e) {
                r = "error: " + e.getDescription();
            }
            out.println(r);
        }
    }

    static long fnv(long h, byte[] b) {
        for (byte x : b) h = (h ^ (x & 0xff)) * 1099511628211L;
        return h;
    }

    static double median(double[] v) {
        double[] t = v.clone();
        Arrays.sort(t);
        return t.length % 2 == 1 ? t[t.length / 2] : (t[t.length / 2 - 1] + t[t.length / 2]) / 2;
    }

    /** A subject that throws once a deadline has passed, so a runaway match can be stopped. */
    static final class Deadline implements CharSequence {
        final String s;
        final long end;
        long calls;
        Deadline(String s, long end) { this.s = s; this.end = end; }
        public int length() { return s.length(); }
        public char charAt(int i) {
            if ((++calls & 4095) == 0 && System.nanoTime() > end) throw new IllegalStateException("deadline");
            return s.charAt(i);
        }
        public CharSequence subSequence(int a, int b) { return s.subSequence(a, b); }
        public String toString() { return s; }
    }

    static void urls(String file, int n, int rounds, double cap) throws Exception {
        List<String> urls = new ArrayList<>(n);
        long bytes = 0;
        try (BufferedReader r = Files.newBufferedReader(Paths.get(file), StandardCharsets.UTF_8)) {
            String line;
            while (urls.size() < n && (line = r.readLine()) != null) {
                int a = line.indexOf("\"url\":\"");
                if (a < 0) continue;
                a += 7;
                String u = line.substring(a, line.indexOf('"', a));
                urls.add(u);
                bytes += u.getBytes(StandardCharsets.UTF_8).length;
            }
        }
        System.out.printf("java %s (%s); %d urls%n%n```%n", System.getProperty("java.version"),
                System.getProperty("java.vm.name"), urls.size());
        double[] ns = new double[rounds], comp = new double[rounds];
        long matches = 0, sum = 0;
        for (int r = -1; r < rounds; r++) { // r = -1: warm-up, not counted
            long c0 = MX.getCurrentThreadCpuTime();
            for (int i = 0; i < 2000; i++) Pattern.compile(Q21);
            double compile = (MX.getCurrentThreadCpuTime() - c0) / 2000.0;
            Pattern p = Pattern.compile(Q21);
            long h = 0xcbf29ce484222325L, m = 0;
            byte[] idx = new byte[8];
            long t0 = MX.getCurrentThreadCpuTime(), w0 = System.nanoTime();
            for (int i = 0; i < urls.size(); i++) {
                String g = extract(p, urls.get(i), 2);
                if (g != null) {
                    m++;
                    for (int k = 0; k < 8; k++) idx[k] = (byte) ((long) i >>> (8 * k));
                    h = fnv(fnv(h, idx), g.getBytes(StandardCharsets.UTF_8));
                }
            }
            double cpu = MX.getCurrentThreadCpuTime() - t0, wall = System.nanoTime() - w0;
            System.out.printf("round %s  %-38s %8.1f / %8.1f  matches %d  sum %016x%n",
                    r < 0 ? "w" : String.valueOf(r + 1), "java.util.regex", cpu / urls.size(),
                    wall / urls.size(), m, h);
            if (r >= 0) {
                ns[r] = cpu / urls.size();
                comp[r] = compile / 1e3;
                matches = m;
                sum = h;
            }
        }
        double[] mbs = new double[rounds];
        for (int r = 0; r < rounds; r++) mbs[r] = bytes / (ns[r] * urls.size() / 1e9) / 1e6;
        System.out.printf("```%n%n| java.util.regex (reference) | %d | %016x | %.0f (%.0f–%.0f) | %.0f | %.1f |%n",
                matches, sum, median(ns), Arrays.stream(ns).min().getAsDouble(),
                Arrays.stream(ns).max().getAsDouble(), median(mbs), median(comp));

        int[] sizes = {10, 14, 18, 20, 22, 24, 26, 28, 30, 100, 1000, 10000};
        Pattern bt = Pattern.compile(BT);
        long end = System.nanoTime() + (long) (cap * 1e9);
        StringBuilder row = new StringBuilder("| java.util.regex (reference) |");
        String verdict = null;
        double[] per = new double[sizes.length];
        for (int k = 0; k < sizes.length; k++) {
            int len = sizes[k];
            String s = "a".repeat(len) + "b";
            long reps = 0, t0 = MX.getCurrentThreadCpuTime(), el;
            try {
                do {
                    if (bt.matcher(new Deadline(s, end)).find()) throw new AssertionError("matched");
                    reps++;
                    el = MX.getCurrentThreadCpuTime() - t0;
                } while (el < 20_000_000L && reps < 1_000_000);
            } catch (IllegalStateException e) {
                row.append(String.format(" > %.0f s, stopped |", cap));
                for (int j = k + 1; j < sizes.length; j++) row.append(" – |");
                verdict = String.format("**blows up**: n=%d still running after the %.0f s cap", len, cap);
                break;
            }
            double t = (double) el / reps;
            per[k] = t;
            row.append(t < 1e4 ? String.format(" %.0f ns |", t) : t < 1e7 ? String.format(" %.1f µs |", t / 1e3)
                    : t < 1e10 ? String.format(" %.1f ms |", t / 1e6) : String.format(" %.1f s |", t / 1e9));
        }
        if (verdict == null)
            verdict = String.format("completed: ×%.1f from n=100 to 1000, ×%.1f from n=1000 to 10000",
                    per[sizes.length - 2] / per[sizes.length - 3], per[sizes.length - 1] / per[sizes.length - 2]);
        System.out.printf("%n%s %s |%n", row, verdict);
    }

    public static void main(String[] a) throws Exception {
        if (a.length == 2 && a[0].equals("checks")) checks(a[1]);
        else if (a.length == 5 && a[0].equals("urls"))
            urls(a[1], Integer.parseInt(a[2]), Integer.parseInt(a[3]), Double.parseDouble(a[4]));
        else {
            System.err.println("usage: JavaRef checks CASES | JavaRef urls FILE N ROUNDS CAP");
            System.exit(2);
        }
    }
}
