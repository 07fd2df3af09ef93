import Foundation
import PackagePlugin

/// Runs InstructionTableGenerator over the target's `Instructions.table` at build time, so the
/// decoder metadata and the dispatch switch can never drift from the table.
@main
struct GenerateInstructionDispatch: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        guard let module = target as? SourceModuleTarget else { return [] }
        let table = module.directoryURL.appending(path: "Instructions.table")
        // Handler files are inputs too: the generator dispatches only rows whose handler exists.
        let handlerSources = module.sourceFiles(withSuffix: "swift").map(\.url)
        let output = context.pluginWorkDirectoryURL.appending(path: "InstructionDispatch.generated.swift")
        return [
            .buildCommand(
                displayName: "Generating s390x instruction dispatch from \(table.lastPathComponent)",
                executable: try context.tool(named: "InstructionTableGenerator").url,
                arguments: [table.path, output.path] + handlerSources.map(\.path),
                inputFiles: [table] + handlerSources,
                outputFiles: [output])
        ]
    }
}
