import Glibc

enum Time {
    /// Now in RFC 3339 with nanoseconds, UTC, as runc writes `created`.
    static func rfc3339Now() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return rfc3339(seconds: Int64(ts.tv_sec), nanoseconds: Int64(ts.tv_nsec))
    }

    static func monotonicMillis() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }

    /// The date computed here, not with gmtime_r: glibc's first gmtime_r
    /// reads and parses /etc/localtime (tzset), on every create.
    static func rfc3339(seconds: Int64, nanoseconds: Int64) -> String {
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        let (year, month, day) = civil(daysSinceEpoch: days)
        func pad(_ v: Int64, _ n: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, n - s.utf8.count)) + s
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T"
            + "\(pad(secondOfDay / 3600, 2)):\(pad(secondOfDay / 60 % 60, 2)):\(pad(secondOfDay % 60, 2))."
            + pad(nanoseconds, 9) + "Z"
    }

    /// Proleptic Gregorian year, month, day of a day count from 1970-01-01
    /// (the days-to-civil algorithm of Howard Hinnant's date library).
    static func civil(daysSinceEpoch z0: Int64) -> (Int64, Int64, Int64) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
