import ArgumentParser
import ReplayCore

@main
struct Replayd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replayd",
        abstract: "Record TCP sessions into cassettes and replay them with their original timing.",
        version: ReplaydVersion.current,
        subcommands: [
            RecordCommand.self, ReplayCommand.self, ShowCommand.self, CatCommand.self,
            ImportCommand.self, CaptureCommand.self, ExportCommand.self,
        ]
    )
}
