import SmarketingStore

extension SQLiteStore {
    /// The workspace store as the product runs it: scores, MQL moves, routing and SLA clocks on,
    /// read with the project's model and configuration file readers. One place names them all,
    /// so a new reader reaches the CLI, the server and the tests together.
    public static func workspace(path: String, backgroundCheckpoints: Bool = false) throws -> SQLiteStore {
        try SQLiteStore(
            path: path,
            backgroundCheckpoints: backgroundCheckpoints,
            scoringModels: ScoringModelFile.parser,
            handoverConfigs: HandoverConfigFile.parser
        )
    }
}
