public import Configuration

/// The settings given on `serve`'s command line (`--name value` or `--name=value`, names from
/// `Setting.all`), by setting name: the top configuration layer. A repeatable setting collects
/// every value; any other given twice keeps the last, as flags usually do.
public enum SettingArguments {
    public static func parse(_ arguments: [String]) throws(ConfigurationError) -> [String: ConfigContent] {
        var values: [String: ConfigContent] = [:]
        var lists: [String: [String]] = [:]
        var remaining = arguments[...]
        while let argument = remaining.popFirst() {
            guard argument.hasPrefix("--"), argument.count > 2 else {
                throw ConfigurationError(
                    .unknownSetting,
                    "unexpected argument \"\(argument)\"; settings are given as --NAME VALUE (see `herald serve --help`)"
                )
            }
            let flag = argument.dropFirst(2)
            let name: String
            let value: String
            if let equals = flag.firstIndex(of: "=") {
                name = String(flag[..<equals])
                value = String(flag[flag.index(after: equals)...])
            } else {
                name = String(flag)
                guard let next = remaining.popFirst() else {
                    throw ConfigurationError(.invalidValue, "--\(name) needs a value")
                }
                value = next
            }
            guard let setting = Setting.all.first(where: { $0.name == name }) else {
                throw ConfigurationError(.unknownSetting, "unknown option --\(name) (see `herald serve --help` for every setting)")
            }
            switch setting.form {
            case .value: values[name] = .string(value)
            case .list: lists[name, default: []].append(value)
            }
        }
        for (name, items) in lists { values[name] = .stringArray(items) }
        return values
    }
}
